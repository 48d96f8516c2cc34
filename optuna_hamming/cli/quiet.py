"""Keeping library chatter out of a command's own output (``--verbose`` lets it back in).

TensorFlow's C++ start-up lines, absl's warning about its own logging, Optuna's per-trial INFO
lines and ``ExperimentalWarning`` for heartbeats, MLflow's INFO lines while it creates its
tables and its "View run ... / View experiment ..." line for every run on a tracking server
would come between the command's lines. The CLI is the application, so it may set these
switches, but only for the duration of the command: they are put back afterwards (tests call
``main`` in-process).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import optuna

# Environment switches read by the libraries when they start (TensorFlow's C++ logging at its
# import, MLflow's logger levels at its import) or at each call (MLflow's URL printing).
_QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_PRINT_MODEL_URLS_ON_CREATION": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}
_QUIET_LOGGERS = ("mlflow", "alembic", "absl", "tensorflow", "h5py", "matplotlib")
# What TensorFlow's C++ code writes to file descriptor 2 while it loads, before any switch
# is read; every other line written there during the import is passed on.
_START_UP_LINES = (
    b"absl::InitializeLog",
    b"oneDNN custom operations",
    b"cpu_feature_guard",
    b"To enable the following instructions",
)


@contextmanager
def library_chatter_kept_out(*, verbose: bool) -> Iterator[None]:
    if verbose:
        yield
        return
    with ExitStack() as undo:
        saved_environment = {name: os.environ.get(name) for name in _QUIET_ENVIRONMENT}
        undo.callback(_restore_environment, saved_environment)
        imported_before = set(sys.modules)
        saved_levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
        undo.callback(_restore_levels, saved_levels, imported_before)
        verbosity = optuna.logging.get_verbosity()
        undo.callback(optuna.logging.set_verbosity, verbosity)
        for name, value in _QUIET_ENVIRONMENT.items():
            os.environ.setdefault(name, value)  # a value the user set stands
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the CLI prints a line per trial
        undo.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if "keras" not in sys.modules:
            _import_keras_without_its_start_up_lines()
        yield


def _restore_environment(saved: dict[str, str | None]) -> None:
    for name, previous in saved.items():
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _restore_levels(saved: dict[str, int], imported_before: set[str]) -> None:
    for name, level in saved.items():
        if name == "mlflow" and "mlflow" not in imported_before and "mlflow" in sys.modules:
            level = logging.INFO  # MLflow configured its logger on import; INFO is its default
        logging.getLogger(name).setLevel(level)


def _import_keras_without_its_start_up_lines() -> None:
    """Import Keras (and TensorFlow, where installed) with TensorFlow's start-up lines held back.

    Those lines are written by C++ code to file descriptor 2 before any switch is read
    (``TF_CPP_MIN_LOG_LEVEL`` does not reach them), so only the descriptor can hold them back:
    it points at a pipe whose lines are passed on as they come, all but those start-up lines.
    A warning, an error or a crash during the import is therefore still shown. TensorFlow is
    imported here on other backends too, since MLflow imports it while logging the final model;
    if it fails to import there, the command goes on (it does not train with it).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(target=_pass_on, args=(read_end, saved), daemon=True)
    forwarder.start()
    try:
        import keras

        if (
            keras.backend.backend() != "tensorflow"
            and importlib.util.find_spec("tensorflow") is not None
        ):
            try:
                importlib.import_module("tensorflow")
            except Exception as error:  # a broken install must not stop a JAX or torch search
                print(f"note: TensorFlow does not import ({error})", file=sys.stderr)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last writer: the forwarder sees its end
        forwarder.join(timeout=5)
        os.close(saved)


def _pass_on(read_end: int, target: int) -> None:
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            if not any(marker in line for marker in _START_UP_LINES):
                os.write(target, line)
