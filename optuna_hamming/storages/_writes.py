"""Writing several trial attributes in one storage transaction where the storage allows it.

Optuna's storage API commits every attribute separately; on an RDB storage that is one
transaction (and on SQLite one fsync) per attribute. The sampler writes five per trial, so on
RDB storages they go into one transaction through the storage's own upsert. Any other
storage, or an Optuna whose internals differ, gets the public per-attribute calls.
"""

from __future__ import annotations

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
