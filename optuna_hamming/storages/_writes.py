"""Several trial or study attributes written in one storage transaction where it can be.

Optuna's storage API commits every attribute separately; on an RDB storage that is one
transaction (and on SQLite one fsync) per attribute. The sampler writes five per trial, so on
RDB storages they go into one transaction through the storage's own upsert. Any other
storage, or an Optuna whose internals differ, gets the public per-attribute calls.
"""

from __future__ import annotations

import json
from typing import Any

from optuna.storages import BaseStorage

from optuna_hamming.storages.reconnect import inner_storage, retrying


def _rdb_backend(storage: BaseStorage) -> Any:
    # ReconnectingStorage may wrap a _CachedStorage, which wraps an RDBStorage.
    inner = inner_storage(storage)
    backend = getattr(inner, "_backend", inner)
    try:
        from optuna.storages import RDBStorage
    except ImportError:  # pragma: no cover - optional SQLAlchemy
        return None
    return backend if isinstance(backend, RDBStorage) else None


def set_trial_attrs(
    storage: BaseStorage,
    trial_id: int,
    *,
    system: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
) -> None:
    """Set system and user attributes of a running trial, in one transaction on RDB storages."""
    system, user = system or {}, user or {}
    rdb = _rdb_backend(storage)
    if rdb is not None:
        try:
            from optuna.storages._rdb import models
            from optuna.storages._rdb.storage import _create_scoped_session

            write = rdb._set_trial_attr_without_commit
        except (ImportError, AttributeError):
            rdb = None
    if rdb is None:
        for key, value in system.items():
            storage.set_trial_system_attr(trial_id, key, value)
        for key, value in user.items():
            storage.set_trial_user_attr(trial_id, key, value)
        return

    def transaction() -> None:
        with _create_scoped_session(rdb.scoped_session) as session:
            for key, value in system.items():
                write(session, models.TrialSystemAttributeModel, trial_id, key, value)
            for key, value in user.items():
                write(session, models.TrialUserAttributeModel, trial_id, key, value)

    retrying(storage, transaction, "set_trial_attrs")  # upserts: a retry writes the same


def set_study_attrs(
    storage: BaseStorage,
    study_id: int,
    *,
    system: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
) -> None:
    """Set system and user attributes of a study, in one transaction on RDB storages.

    A generation close writes its summary, the next plan and the compacted marker: with one
    transaction, a worker that finds the plan also finds the summary, and SQLite pays one
    fsync instead of three (the accelerated mode closes a generation every few trials). As in
    Optuna's own setters, a key that another worker inserted first rolls this transaction
    back: that worker's transaction held the same keys, so the study stays consistent.
    """
    system, user = system or {}, user or {}
    rdb = _rdb_backend(storage)
    if rdb is not None:
        try:
            from optuna.storages._rdb import models
            from optuna.storages._rdb.storage import _create_scoped_session
        except ImportError:
            rdb = None
    if rdb is None:
        for key, value in user.items():
            storage.set_study_user_attr(study_id, key, value)
        for key, value in system.items():
            storage.set_study_system_attr(study_id, key, value)
        return

    def upsert(session: Any, model_cls: Any, study: Any, key: str, value: Any) -> None:
        attribute = model_cls.find_by_study_and_key(study, key, session)
        if attribute is None:
            session.add(model_cls(study_id=study_id, key=key, value_json=json.dumps(value)))
        else:
            attribute.value_json = json.dumps(value)

    def transaction() -> None:
        with _create_scoped_session(rdb.scoped_session, True) as session:
            study = models.StudyModel.find_or_raise_by_id(study_id, session)
            for key, value in user.items():
                upsert(session, models.StudyUserAttributeModel, study, key, value)
            for key, value in system.items():
                upsert(session, models.StudySystemAttributeModel, study, key, value)

    retrying(storage, transaction, "set_study_attrs")  # upserts: a retry writes the same
