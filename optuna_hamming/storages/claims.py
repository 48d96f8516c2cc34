"""Atomic claims: a key of a study that exactly one owner can take, in any Optuna storage.

Optuna's setters overwrite (``set_study_system_attr`` is an upsert everywhere), so a read
followed by a write lets two workers both believe they hold a key. :func:`claim` writes so
that the storage itself orders the contenders, and returns the owner that won:

* RDB storages (SQLite, PostgreSQL, MySQL): a plain INSERT of the study system attribute;
  the table's unique ``(study_id, key)`` constraint refuses all but the first commit;
* journal storages (file, Redis): the log's own order; every contender appends its write and
  the first entry for the key in the log wins (as the log decides which of two studies of
  one name exists);
* in-memory storage: the storage's own lock around the read and the write;
* any other storage (a user's own, Optuna's gRPC proxy): a study whose name holds the key,
  created by the first contender only (every storage refuses a second study of a name).

A contender that wrote first but lost the acknowledgement (a dropped connection, retried
by :class:`~optuna_hamming.storages.ReconnectingStorage`) finds its own owner id held: it
holds the claim. Claims stay in the study, as the plans do: a claim is never taken twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from optuna.exceptions import DuplicatedStudyError
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.study import StudyDirection

from optuna_hamming.storages._reads import study_system_attrs
from optuna_hamming.storages._writes import rdb_internals
from optuna_hamming.storages.lock import lock_name
from optuna_hamming.storages.reconnect import inner_storage, retrying

# Journal's operation code of set_study_system_attr (optuna.storages.journal._storage):
# checked against Optuna's enum at import where it exists.
_SET_STUDY_SYSTEM_ATTR = 3
OWNER_ATTR = "owner"


class ClaimFormatError(ValueError):
    """A claim holds a value this version cannot read (a newer version wrote it)."""


def owner_of(key: str, value: Any) -> int:
    """The owner a claim's stored ``value`` names: an int, or a clear error."""
    if type(value) is int:
        return value
    raise ClaimFormatError(
        f"the study's claim {key!r} holds {value!r}, which this version of optuna-hamming "
        "cannot read: a newer version wrote it. Run the same optuna-hamming version on every "
        "worker of a study (pip install -U optuna-hamming)."
    )


def claim(storage: BaseStorage, study_id: int, key: str, owner: int) -> int:
    """Take ``key`` of study ``study_id`` for ``owner`` unless another owner holds it;
    return the owner that holds it now (``owner`` itself when this call, or an earlier
    call of the same owner, took it)."""
    internals = rdb_internals(storage)
    if internals is not None:
        return _rdb_claim(storage, internals, study_id, key, owner)
    inner = inner_storage(storage)
    if isinstance(inner, InMemoryStorage):
        with inner._lock:
            held = inner.get_study_system_attrs(study_id).get(key)
            if held is None:
                inner.set_study_system_attr(study_id, key, owner)
                return owner
            return owner_of(key, held)
    if _is_journal(inner):
        return _journal_claim(storage, inner, study_id, key, owner)
    return _study_name_claim(storage, study_id, key, owner)


def _rdb_claim(
    storage: BaseStorage, internals: tuple[Any, Any, Any], study_id: int, key: str, owner: int
) -> int:
    from sqlalchemy.exc import IntegrityError

    rdb, models, scoped = internals
    model = models.StudySystemAttributeModel
    row = {"study_id": study_id, "key": key, "value_json": json.dumps(owner)}
    insert = _insert_or_nothing(rdb.engine.name, model, row)

    def insert_then_read() -> int:
        # One transaction: the INSERT that a held key turns into nothing, then the holder.
        with scoped(rdb.scoped_session) as session:
            session.execute(insert)
            held = (
                session.query(model.value_json)
                .filter(model.study_id == study_id, model.key == key)
                .one()
            )
        return owner_of(key, json.loads(held[0]))

    def insert_or_read() -> int:
        try:
            with scoped(rdb.scoped_session) as session:
                session.add(model(**row))
            return owner
        except IntegrityError:
            with scoped(rdb.scoped_session) as session:
                held = (
                    session.query(model.value_json)
                    .filter(model.study_id == study_id, model.key == key)
                    .one()
                )
            return owner_of(key, json.loads(held[0]))

    # A retry after a lost commit acknowledgement reads its own owner back.
    return retrying(storage, insert_or_read if insert is None else insert_then_read, "claim")


def _insert_or_nothing(dialect: str, model: Any, row: dict[str, Any]) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL (a lost race costs no
    rolled-back transaction); None elsewhere (MySQL: the plain INSERT and its error)."""
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 24, 0):
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:
        return None
    return insert(model).values(row).on_conflict_do_nothing(index_elements=["study_id", "key"])


def claims_held(storage: BaseStorage, study_id: int, prefix: str) -> dict[str, int]:
    """Every claim of the study whose key starts with ``prefix``, and its owner (one query
    on RDB storages)."""
    held = study_system_attrs(storage, study_id, prefix=prefix)
    return {key: owner_of(key, value) for key, value in held.items()}


def _is_journal(storage: BaseStorage) -> bool:
    try:
        from optuna.storages import JournalStorage
        from optuna.storages.journal._storage import JournalOperation
    except ImportError:  # pragma: no cover - an Optuna without journal storage
        return False
    return (
        isinstance(storage, JournalStorage)
        and int(JournalOperation.SET_STUDY_SYSTEM_ATTR) == _SET_STUDY_SYSTEM_ATTR
        and hasattr(storage, "_backend")
    )


@dataclass
class _LogReader:
    """What one process has read of a journal's log: how far, and each claim's first owner."""

    read: int = 0
    first: dict[tuple[int, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def scan(self, logs: Iterable[dict[str, Any]], prefix: str) -> None:
        for log in logs:
            self.read += 1
            if log.get("op_code") != _SET_STUDY_SYSTEM_ATTR:
                continue
            for key, value in log.get("system_attr", {}).items():
                # Claims hold owner numbers; other keys of the prefix (plans) are not claims.
                if key.startswith(prefix) and type(value) is int:
                    self.first.setdefault((int(log["study_id"]), key), value)


_readers: weakref.WeakKeyDictionary[Any, _LogReader] = weakref.WeakKeyDictionary()
_readers_lock = threading.Lock()
# Journal claims are found in the log by this prefix of their key (the sampler's keys).
JOURNAL_CLAIM_PREFIX = "hamming_ga:"


def _journal_claim(storage: BaseStorage, journal: Any, study_id: int, key: str, owner: int) -> int:
    if not key.startswith(JOURNAL_CLAIM_PREFIX):
        raise ValueError(f"journal claims need keys starting {JOURNAL_CLAIM_PREFIX!r}: {key!r}")
    backend = journal._backend
    with _readers_lock:
        reader = _readers.setdefault(backend, _LogReader())
    with reader.lock:
        held = reader.first.get((study_id, key))
        if held is None:
            # Appended, then the log read up to (at least) this entry: the first entry of the
            # key, this one or an earlier contender's, is the holder in every process.
            retrying(storage, lambda: journal.set_study_system_attr(study_id, key, owner), "claim")
            reader.scan(backend.read_logs(reader.read), JOURNAL_CLAIM_PREFIX)
            held = reader.first[(study_id, key)]
        return held


def _study_name_claim(storage: BaseStorage, study_id: int, key: str, owner: int) -> int:
    name = lock_name(storage.get_study_name_from_id(study_id), f"claim:{key}")
    try:
        claim_id = storage.create_new_study([StudyDirection.MINIMIZE], name)
    except DuplicatedStudyError:
        held = storage.get_study_system_attrs(storage.get_study_id_from_name(name))
        # The winner writes its owner just after creating the study: until then it is
        # someone else's, which is all a loser needs to know.
        return int(held.get(OWNER_ATTR, -1))
    storage.set_study_system_attr(claim_id, OWNER_ATTR, owner)
    return owner
