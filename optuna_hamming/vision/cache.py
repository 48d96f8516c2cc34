"""Where the project keeps what it computes once: features, converted weights, XLA programs."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$OPTUNA_HAMMING_CACHE``, else ``$XDG_CACHE_HOME/optuna-hamming``, else ~/.cache/..."""
    explicit = os.environ.get("OPTUNA_HAMMING_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "optuna-hamming"
