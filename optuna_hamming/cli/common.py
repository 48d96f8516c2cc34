"""Opening storages, studies and tracking servers, with errors that say what to pass."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend

from optuna_hamming.cli.errors import UserError


def open_storage(url: str) -> BaseStorage:
    """An Optuna storage for ``url`` (RDB URLs, or ``journal:PATH`` for a journal file)."""
    try:
        if url.startswith("journal:"):
            path = Path(url.removeprefix("journal:"))
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.get_storage(url)
    except OSError as error:
        raise UserError(
            f"cannot create the storage {url!r} ({error}); pass a writable --storage, e.g. "
            "sqlite:////tmp/optuna.db"
        ) from None
    except Exception as error:  # SQLAlchemy and driver errors have no common base
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(
            f"cannot open the storage {url!r}: {reason}. Pass an SQLAlchemy URL such as "
            "sqlite:///mlruns/optuna.db or postgresql+psycopg://user@host/db, or "
            "journal:PATH"
        ) from None


def study_name_in(storage: BaseStorage, name: str | None, url: str) -> str:
    """``name``, or the storage's only study when ``name`` is None."""
    studies = [s.study_name for s in storage.get_all_studies()]
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
