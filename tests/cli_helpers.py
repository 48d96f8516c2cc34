"""Running the CLI in-process and reading what it logged, for the CLI tests."""

from __future__ import annotations

import contextlib
import io
import logging

import mlflow
from mlflow import MlflowClient

from optuna_hamming.cli import main


def run_cli(*argv: str) -> tuple[int, str, str]:
    """The CLI in this process: its exit code, stdout and stderr. The package's log warnings
    go to stderr as ``optuna-hamming``'s own logging set-up prints them (pytest's handlers
    on the root logger would otherwise keep them out of it)."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("optuna_hamming")
    package.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        package.removeHandler(handler)
    return code, out.getvalue(), err.getvalue()


def runs_by_role(tracking_uri: str, study_name: str) -> dict[str, list[mlflow.entities.Run]]:
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study_name)
    assert experiment is not None
    found: dict[str, list[mlflow.entities.Run]] = {}
    for run in client.search_runs([experiment.experiment_id], max_results=1000):
        found.setdefault(run.data.tags["optuna_hamming.role"], []).append(run)
    return found
