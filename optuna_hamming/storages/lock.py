"""A lock that every worker of a study can take, in any Optuna storage.

Optuna's storages have no compare-and-set on attributes, but each one refuses a second study
with a name it already holds (a unique key in RDB, the log's order in Journal storage, a lock
in memory). So a lock is a study named ``optuna-hamming.lock:<study>:<key>``: whoever creates
it holds the lock, deleting it releases it. Workers use it for the few things that must
happen once per study however many workers start at the same moment: creating the MLflow
parent run, building the final model.

A worker that dies while holding a lock leaves the lock study behind; a waiter that has seen
the same lock held for ``stale_after`` seconds deletes it and takes it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from optuna.exceptions import DuplicatedStudyError
from optuna.storages import BaseStorage
from optuna.study import StudyDirection

LOCK_PREFIX = "optuna-hamming.lock:"
HOLDER_ATTR = "holder"


def lock_name(study_name: str, key: str) -> str:
    return f"{LOCK_PREFIX}{study_name}:{key}"


def is_lock_study(name: str) -> bool:
    """True for the studies this module creates (tools listing studies leave them out)."""
    return name.startswith(LOCK_PREFIX)


@contextmanager
def study_lock(
    storage: BaseStorage,
    study_name: str,
    key: str,
    *,
    wait: float,
    stale_after: float,
    poll: float = 0.1,
) -> Iterator[bool]:
    """Hold the lock ``key`` of ``study_name`` inside the block; yields False (and runs
    the block without it) when another worker held it for ``wait`` seconds."""
    name = lock_name(study_name, key)
    deadline = time.monotonic() + wait
    first_seen: dict[int, float] = {}
    lock_id: int | None = None
    while True:
        try:
            lock_id = storage.create_new_study([StudyDirection.MINIMIZE], name)
            break
        except DuplicatedStudyError:
            pass
        try:
            held_id = storage.get_study_id_from_name(name)
        except KeyError:
            continue  # released between the two calls
        seen = first_seen.setdefault(held_id, time.monotonic())
        if time.monotonic() - seen > stale_after:
            # The holder died (or hangs) with it: break it, then race for it again.
            with suppress(KeyError):
                storage.delete_study(held_id)
            continue
        if time.monotonic() >= deadline:
            break
        time.sleep(poll)
    if lock_id is not None:
        with suppress(KeyError):  # for people looking at a lock left behind
            storage.set_study_system_attr(
                lock_id, HOLDER_ATTR, f"{socket.gethostname()}:{os.getpid()}"
            )
    try:
        yield lock_id is not None
    finally:
        if lock_id is not None:
            with suppress(KeyError):  # a waiter broke it, taking us for dead
                storage.delete_study(lock_id)
