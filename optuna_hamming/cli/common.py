"""Opening storages, studies and tracking servers, with errors that say what to pass."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend
from optuna.trial import FrozenTrial

from optuna_hamming.cli.errors import UserError
from optuna_hamming.storages import (
    ReconnectingJournalBackend,
    ReconnectingStorage,
    is_lock_study,
)
from optuna_hamming.storages.reconnect import DEFAULT_MAX_WAIT

# Study user attributes the CLI owns (the sampler's own are in optuna_hamming.sampler.attributes).
CONFIG_ATTR = "optuna_hamming.config"  # the options a study was started with
FINAL_ATTR = "optuna_hamming.final_model"  # the final model built for it
# --views auto: the set chosen, and every candidate set's score
VIEWS_CHOSEN_ATTR = "optuna_hamming.views_chosen"


class StaleTrialHandler:
    """Optuna's ``heartbeat_stale_trial_callback``: a trial whose worker died is failed by
    the worker that notices; this ends its MLflow run as FAILED (once a tracker is set) and
    queues a copy of it, which the sampler puts in the dead trial's place."""

    def __init__(self, max_retry: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        self.tracker: Any = None

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.tracker is not None:
            self.tracker.close_dead_trial(study, trial)
        self._retry(study, trial)


def open_storage(
    url: str, *, heartbeat: int = 0, on_stale: StaleTrialHandler | None = None
) -> BaseStorage:
    """An Optuna storage for ``url`` (RDB URLs, ``journal:PATH`` for a journal file, or
    ``journal-redis:redis://HOST:PORT/DB`` for a journal in Redis). With ``heartbeat``
    seconds, RDB storages record heartbeats and fail the trials of dead workers."""
    attempt = 1
    while True:
        try:
            return _storage(url, heartbeat=heartbeat, on_stale=on_stale)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as error:
            # Workers started together on an empty database all create Optuna's tables; on
            # PostgreSQL the losers fail with a duplicate pg_type or "already exists". A retry
            # finds the tables made. Other errors, or a last failure, are reported as usual.
            if attempt == _CREATE_ATTEMPTS or not _lost_creation_race(error):
                raise _storage_error(url, error) from None
            time.sleep(0.2 * attempt)
            attempt += 1


_CREATE_ATTEMPTS = 5


def _lost_creation_race(error: Exception) -> bool:
    text = str(error)
    return "already exists" in text or "duplicate key" in text


def _storage_error(url: str, error: Exception) -> UserError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return UserError(
        f"cannot open the storage {url!r}: {reason}. Pass an SQLAlchemy URL such as "
        "sqlite:///mlruns/optuna.db or postgresql+psycopg://user@host/db, "
        "journal:PATH or journal-redis:redis://127.0.0.1:6379"
    )


def _storage(url: str, *, heartbeat: int, on_stale: StaleTrialHandler | None) -> BaseStorage:
    try:
        if url.startswith("journal:"):
            path = Path(url.removeprefix("journal:"))
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        if url.startswith("journal-redis:"):
            redis = JournalRedisBackend(url.removeprefix("journal-redis:"))
            return JournalStorage(ReconnectingJournalBackend(redis))  # a restart, a failover
        local = url.startswith("sqlite:///")
        if local:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        rdb = RDBStorage(
            url,
            # A server that restarted closed the pooled connections: replace them before use.
            engine_kwargs=None if local else {"pool_pre_ping": True},
            heartbeat_interval=heartbeat if heartbeat > 0 else None,
            # Longer than the reconnection window, so that a database outage the workers
            # ride out does not make their live trials look stale to each other.
            grace_period=2 * heartbeat + int(DEFAULT_MAX_WAIT) if heartbeat > 0 else None,
            heartbeat_stale_trial_callback=on_stale if heartbeat > 0 else None,
        )
        # SQLite has no server to restart, and its OperationalErrors are mostly bad paths.
        cached = optuna.storages.get_storage(rdb)
        return cached if local else ReconnectingStorage(cached)
    except ImportError as error:
        raise UserError(
            f"the storage {url!r} needs {error.name or 'a driver'}: pip install "
            "'optuna-hamming[distributed]'"
        ) from None
    except OSError as error:
        raise UserError(
            f"cannot create the storage {url!r} ({error}); pass a writable --storage, e.g. "
            "sqlite:////tmp/optuna.db"
        ) from None
    except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
        raise  # open_storage retries a lost table-creation race
    except Exception as error:  # SQLAlchemy and driver errors have no common base
        raise _storage_error(url, error) from None


def study_name_in(storage: BaseStorage, name: str | None, url: str) -> str:
    """``name``, or the storage's only study when ``name`` is None."""
    studies = [s.study_name for s in storage.get_all_studies() if not is_lock_study(s.study_name)]
    if name is not None:
        if name not in studies:
            known = ", ".join(studies) or "none"
            raise UserError(
                f"no study {name!r} in {url} (studies there: {known}); pass one of them "
                "with --study-name"
            )
        return name
    if len(studies) == 1:
        return studies[0]
    if not studies:
        raise UserError(f"{url} holds no study yet; run `optuna-hamming search` first")
    raise UserError(f"{url} holds several studies ({', '.join(studies)}): pass --study-name")


def check_tracking_server(uri: str) -> None:
    """Fail fast when an HTTP tracking server is down (MLflow would retry for minutes)."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5):
            pass
    except (urllib.error.URLError, OSError) as error:
        raise UserError(
            f"the MLflow tracking server {uri} is unreachable ({error}); start it, or leave "
            "out --tracking-uri to log to sqlite:///mlruns/mlflow.db"
        ) from None
