"""Atomic claims (optuna_hamming.storages.claims): one owner per key on every storage, under
real concurrency, and a lost acknowledgement that finds its own claim."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import optuna
import pytest
import sqlalchemy
from optuna.storages import BaseStorage, InMemoryStorage, RDBStorage

from optuna_hamming.storages import ReconnectingStorage, is_lock_study
from optuna_hamming.storages.claims import claim
from tests.helpers import (
    CROSS_PROCESS_STORAGE_KINDS,
    POSTGRES_URL,
    STORAGE_KINDS,
    make_storage,
    reachable,
    storage_spec,
)
from tests.worker_pool import ROOT


def new_study(kind: str, tmp_path: Path) -> tuple[str, BaseStorage, str, int]:
    spec = storage_spec(kind, tmp_path)
    storage = optuna.storages.get_storage(make_storage(spec))
    name = f"claims-{uuid.uuid4().hex}"
    return (
        spec,
        storage,
        name,
        storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], name),
    )


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_the_first_owner_holds_a_key_and_a_repeat_finds_its_own(kind: str, tmp_path: Path) -> None:
    _, storage, _, study_id = new_study(kind, tmp_path)
    assert claim(storage, study_id, "hamming_ga:claim:1:0", 7) == 7
    assert claim(storage, study_id, "hamming_ga:claim:1:0", 9) == 7
    # The same owner again: a retry whose first write committed (a lost acknowledgement).
    assert claim(storage, study_id, "hamming_ga:claim:1:0", 7) == 7
    assert claim(storage, study_id, "hamming_ga:claim:1:1", 9) == 9
    assert storage.get_study_system_attrs(study_id)["hamming_ga:claim:1:0"] == 7


def test_sixteen_threads_racing_for_one_key_agree_on_one_owner() -> None:
    storage = InMemoryStorage()
    study_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "threads")
    barrier = threading.Barrier(16)
    held: list[int] = []

    def contend(owner: int) -> None:
        barrier.wait()
        held.append(claim(storage, study_id, "hamming_ga:claim:0:0", owner))

    threads = [threading.Thread(target=contend, args=(owner,)) for owner in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(held) == 16 and len(set(held)) == 1


@pytest.mark.parametrize("kind", CROSS_PROCESS_STORAGE_KINDS)
def test_processes_racing_for_one_child_agree_on_one_owner(kind: str, tmp_path: Path) -> None:
    """Six processes claim one key at the same instant (each started, connected and waiting
    for the clock): exactly one owner, and every process reads that owner."""
    spec, _, name, _ = new_study(kind, tmp_path)
    start = time.time() + 8  # interpreters start and connect first
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.claim_worker",
                spec,
                name,
                "hamming_ga:claim:3:1",
                str(owner),
                str(start),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for owner in range(6)
    ]
    held = [int(worker.communicate(timeout=120)[0].strip()) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    assert len(set(held)) == 1 and held[0] in range(6)


def test_a_storage_without_a_native_claim_uses_a_study_name(tmp_path: Path) -> None:
    """Any other storage (a user's own, Optuna's gRPC proxy) claims through the uniqueness of
    study names, which every storage keeps; the claim studies are hidden as lock studies."""

    class Plain:
        """Optuna's in-memory storage behind a wrapper that claims do not recognise."""

        def __init__(self) -> None:
            self.inner = InMemoryStorage()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    storage = cast(BaseStorage, Plain())
    study_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "plain")
    assert claim(storage, study_id, "hamming_ga:claim:0:0", 4) == 4
    assert claim(storage, study_id, "hamming_ga:claim:0:0", 5) == 4
    names = [s.study_name for s in storage.get_all_studies()]
    assert sorted(is_lock_study(n) for n in names) == [False, True]


@contextmanager
def acknowledgements_lost(rdb: RDBStorage, times: int) -> Iterator[list[int]]:
    """The next ``times`` commits of ``rdb`` reach the database, and then the call fails as
    on a connection dropped before the server's answer arrived (a lost acknowledgement)."""
    lost: list[int] = []

    def drop(session: Any) -> None:
        if len(lost) < times:
            lost.append(1)
            raise sqlalchemy.exc.OperationalError(
                "COMMIT", {}, ConnectionError("server closed the connection unexpectedly")
            )

    factory = rdb.scoped_session.session_factory
    sqlalchemy.event.listen(factory, "after_commit", drop)
    try:
        yield lost
    finally:
        sqlalchemy.event.remove(factory, "after_commit", drop)


@pytest.mark.skipif(not reachable(5432), reason="no PostgreSQL on 127.0.0.1:5432")
def test_a_lost_acknowledgement_neither_loses_nor_doubles_a_claim_or_a_trial() -> None:
    """On PostgreSQL through ReconnectingStorage: the claim's INSERT committed and its answer
    was lost, so the retry meets the unique key, reads its own owner and holds the claim; a
    new trial whose creation committed unanswered is found again by its creation token, not
    created a second time (which would stay RUNNING with no worker and no heartbeat)."""
    rdb = RDBStorage(POSTGRES_URL)
    storage = ReconnectingStorage(rdb)
    study = optuna.create_study(storage=storage, study_name=f"ack-{uuid.uuid4().hex}")
    with acknowledgements_lost(rdb, 1) as lost:
        assert claim(storage, study._study_id, "hamming_ga:claim:0:0", 3) == 3
    assert lost == [1]
    assert claim(storage, study._study_id, "hamming_ga:claim:0:0", 4) == 3
    with acknowledgements_lost(rdb, 1) as lost:
        trial_id = storage.create_new_trial(study._study_id)
    assert lost == [1]
    trials = study.get_trials(deepcopy=False)
    assert [t._trial_id for t in trials] == [trial_id]
    assert trials[0].state == optuna.trial.TrialState.RUNNING
    # The storage's retry counter saw both calls succeed only after reconnecting.
    assert storage.reconnection.retried == 2
    optuna.delete_study(study_name=study.study_name, storage=storage)
