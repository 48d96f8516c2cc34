"""Several trial or study attributes written in one storage transaction where it can be.

Optuna's storage API commits every attribute separately; on an RDB storage that is one
transaction (and on SQLite one fsync) per attribute. The sampler writes five per trial, so on
RDB storages they go into one transaction through the storage's own upsert. Any other
storage, or an Optuna whose internals differ, gets the public per-attribute calls.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

from optuna.storages import BaseStorage

from optuna_hamming.storages.reconnect import inner_storage, retrying


def rdb_backend(storage: BaseStorage) -> Any:
    """The RDBStorage under ``storage`` (also read by :mod:`._reads`); None on any other."""
    # ReconnectingStorage may wrap a _CachedStorage, which wraps an RDBStorage.
    inner = inner_storage(storage)
    backend = getattr(inner, "_backend", inner)
    try:
        from optuna.storages import RDBStorage
    except ImportError:  # pragma: no cover - optional SQLAlchemy
        return None
    return backend if isinstance(backend, RDBStorage) else None


def rdb_internals(storage: BaseStorage, needs: tuple[str, ...] = ()) -> tuple[Any, Any, Any] | None:
    """The RDB backend, Optuna's ORM models and its session helper; None on any other
    storage, or on an Optuna whose internals differ, such as a backend without the private
    methods in ``needs`` (the public setters are used then)."""
    rdb = rdb_backend(storage)
    if rdb is None:
        return None
    try:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
    except ImportError:
        return None
    if not all(hasattr(rdb, method) for method in needs):
        return None
    return rdb, models, _create_scoped_session


Setter = Callable[[str, Any], None]


def _multi_row_upsert(dialect: str, model_cls: Any, rows: list[dict[str, Any]]) -> Any:
    """One INSERT of ``rows`` that overwrites the value of a (trial, key) already there, on
    SQLite and PostgreSQL (the ON CONFLICT upsert Optuna itself uses there); None elsewhere
    (MySQL included: nothing here can test its variant, so it keeps Optuna's per-key write)."""
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 24, 0):
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:
        return None
    statement = insert(model_cls).values(rows)
    return statement.on_conflict_do_update(
        index_elements=[model_cls.trial_id, model_cls.key],
        set_={"value_json": statement.excluded.value_json},
    )


def _in_one_transaction(
    storage: BaseStorage,
    one_by_one: list[tuple[Setter, dict[str, Any]]],
    body: Callable[[Any, Any, Any], None],
    *,
    name: str,
    needs: tuple[str, ...] = (),
    ignore_integrity_error: bool = False,
) -> None:
    """``body(rdb, models, session)`` in one transaction on RDB storages, retried across a
    reconnect; elsewhere Optuna's public setters, one commit per attribute, in order."""
    internals = rdb_internals(storage, needs)
    if internals is None:
        for setter, attrs in one_by_one:
            for key, value in attrs.items():
                setter(key, value)
        return
    rdb, models, scoped = internals

    def transaction() -> None:
        with scoped(rdb.scoped_session, ignore_integrity_error) as session:
            body(rdb, models, session)

    retrying(storage, transaction, name)  # upserts: a retry writes the same


def set_trial_attrs(
    storage: BaseStorage,
    trial_id: int,
    *,
    system: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
) -> None:
    """Set system and user attributes of a running trial, in one transaction on RDB storages."""
    system, user = system or {}, user or {}

    def body(rdb: Any, models: Any, session: Any) -> None:
        # One trial lookup and one multi-row upsert per attribute table: Optuna's own
        # per-attribute write looks the trial up and upserts once per key, twelve
        # statements for the six attributes a child claim writes.
        trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
        rdb.check_trial_is_updatable(trial_id, trial.state)
        for model_cls, attrs in (
            (models.TrialSystemAttributeModel, system),
            (models.TrialUserAttributeModel, user),
        ):
            if not attrs:
                continue
            rows = [
                {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                for key, value in attrs.items()
            ]
            statement = _multi_row_upsert(rdb.engine.name, model_cls, rows)
            if statement is not None:
                session.execute(statement)
                continue
            for key, value in attrs.items():
                rdb._set_trial_attr_without_commit(session, model_cls, trial_id, key, value)

    _in_one_transaction(
        storage,
        [
            (partial(storage.set_trial_system_attr, trial_id), system),
            (partial(storage.set_trial_user_attr, trial_id), user),
        ],
        body,
        name="set_trial_attrs",
        needs=("_set_trial_attr_without_commit", "check_trial_is_updatable"),
    )


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
    Elsewhere the user attributes (the summary) are written before the system ones (the plan).
    """
    system, user = system or {}, user or {}

    def body(rdb: Any, models: Any, session: Any) -> None:
        study = models.StudyModel.find_or_raise_by_id(study_id, session)
        for model_cls, attrs in (
            (models.StudyUserAttributeModel, user),
            (models.StudySystemAttributeModel, system),
        ):
            for key, value in attrs.items():
                attribute = model_cls.find_by_study_and_key(study, key, session)
                if attribute is None:
                    attribute = model_cls(study_id=study_id, key=key)
                    session.add(attribute)
                attribute.value_json = json.dumps(value)

    _in_one_transaction(
        storage,
        [
            (partial(storage.set_study_user_attr, study_id), user),
            (partial(storage.set_study_system_attr, study_id), system),
        ],
        body,
        name="set_study_attrs",
        ignore_integrity_error=True,
    )
