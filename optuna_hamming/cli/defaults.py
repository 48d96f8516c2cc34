"""The command line's defaults, read by the parser and by the commands (imports nothing)."""

from __future__ import annotations

DEFAULT_STORAGE = "sqlite:///mlruns/optuna.db"
DEFAULT_REPORTS = "mlruns/reports"
DEFAULT_HEARTBEAT = 30
UI_PORT = 5000  # `optuna-hamming ui`, as `mlflow ui`
DEFAULT_UI_URL = f"http://127.0.0.1:{UI_PORT}"
