"""Keeping library chatter out of a command's own output (``--verbose`` lets it back in).

TensorFlow's C++ start-up lines, absl's warning about its own logging, Optuna's
``ExperimentalWarning`` for heartbeats, MLflow's INFO lines while it creates its tables and
its "View run ... / View experiment ..." line for every run on a tracking server would come
between the command's lines. The CLI is the application, so it may set these switches, but
only for the duration of the command: they are put back afterwards (tests call ``main``).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import optuna

# Environment switches read by the libraries when they start (TensorFlow's C++ logging, read
# at its import) or at each call (MLflow's URL printing).
_QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_PRINT_MODEL_URLS_ON_CREATION": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # MLflow sets its loggers' level when it is imported
}
_QUIET_LOGGERS = ("mlflow", "alembic", "absl", "tensorflow", "h5py", "matplotlib")


@contextmanager
def library_chatter_kept_out(*, verbose: bool) -> Iterator[None]:
    if verbose:
        yield
        return
    saved_environment = {name: os.environ.get(name) for name in _QUIET_ENVIRONMENT}
    saved_levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    for name, value in _QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)  # a value the user set stands
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "keras" not in sys.modules:
        _import_keras_without_its_start_up_lines()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        for name, previous in saved_environment.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def _import_keras_without_its_start_up_lines() -> None:
    """Import Keras (and TensorFlow, where installed) with file descriptor 2 pointed at a
    temporary file.

    TensorFlow's oneDNN notice and absl's line about its own logging are written by C++ code
    before any switch is read (``TF_CPP_MIN_LOG_LEVEL`` does not reach them), so only the
    descriptor can hold them back. TensorFlow is imported here on other backends too: MLflow
    imports it later, while logging the final model, if it is installed. If an import fails,
    what it wrote is shown after all.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401

            if importlib.util.find_spec("tensorflow") is not None:
                importlib.import_module("tensorflow")
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
