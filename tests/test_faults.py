"""Servers that restart under a running study: PostgreSQL and Redis, with real servers.

Three worker processes share a GA study while the test ends every database backend, restarts
PostgreSQL itself (as root, where ``pg_ctlcluster`` exists), or restarts a Redis server of its
own that keeps an append-only file. Afterwards the study must hold its trial count, no trial
may be RUNNING or FAILED, every trial a worker saw finish must be there, and the GA history
must be whole.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import StaleTrialHandler, open_storage
from optuna_hamming.paper import synthetic_objective
from optuna_hamming.storages import ReconnectingStorage, is_connection_error
from optuna_hamming.storages.reconnect import Reconnection
from tests.fault_worker import POPULATION
from tests.helpers import POSTGRES_URL, check_ga_history, reachable
from tests.worker_pool import ROOT, free_port, wait_all

TOTAL = 60
WORKERS = 3


def _admin_engine() -> sqlalchemy.Engine:
    # No pool: a restart in between must not leave it a dead connection.
    return sqlalchemy.create_engine(
        POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool
    )


def terminate_backends(database: str) -> int:
    """End every connection to ``database``; the number ended."""
    admin = _admin_engine()
    try:
        with admin.connect() as connection:
            ended = connection.execute(
                sqlalchemy.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(ended)


@contextmanager
def scratch_database() -> Iterator[tuple[str, str]]:
    """A PostgreSQL database of its own (URL, name), so that ending its backends touches
    no other test."""
    name = f"faults_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name, name
    finally:
        terminate_backends(name)
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def start_workers(url: str, study_name: str, out: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Each trial waits 0.2 s: the workers must still be running (and connected) when the
    # test injects its last fault at 40 of 60 trials, also on a loaded machine.
    command = [sys.executable, "-m", "tests.fault_worker", url, study_name, str(TOTAL), "0.2"]
    return [
        subprocess.Popen([*command, str(out / f"worker{i}.log")], cwd=ROOT, env=env)
        for i in range(WORKERS)
    ]


def wait_complete(study: optuna.Study, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < count:
        assert time.monotonic() < deadline, f"fewer than {count} trials after {timeout} s"
        time.sleep(0.2)


def check_nothing_lost(study: optuna.Study, out: Path) -> None:
    trials = study.get_trials(deepcopy=False)
    states = {t.number: t.state for t in trials}
    assert sum(s == TrialState.COMPLETE for s in states.values()) >= TOTAL
    assert [n for n, s in states.items() if s != TrialState.COMPLETE] == []
    seen = [line.split() for f in out.glob("worker*.log") for line in f.read_text().splitlines()]
    assert len(seen) >= TOTAL
    for number, state in seen:  # every trial a worker saw finish is stored as it saw it
        assert states[int(number)].name == state, (number, state)
    check_ga_history(study, POPULATION)


def run_under_faults(url: str, tmp_path: Path, inject: Callable[[], None]) -> optuna.Study:
    """3 workers to TOTAL complete trials; ``inject`` runs after 10, 25 and 40 of them."""
    name = f"faults-{uuid.uuid4().hex[:8]}"
    storage = open_storage(url)
    study = optuna.create_study(study_name=name, storage=storage)
    workers = start_workers(url, name, tmp_path)
    try:
        for count in (10, 25, 40):
            wait_complete(study, count)
            inject()
    finally:
        wait_all(workers, timeout=240)
    return optuna.load_study(study_name=name, storage=open_storage(url))


postgres = pytest.mark.skipif(not reachable(5432), reason="PostgreSQL is not running")


@postgres
def test_workers_ride_out_every_backend_being_ended(tmp_path: Path) -> None:
    ended: list[int] = []
    with scratch_database() as (url, database):
        study = run_under_faults(url, tmp_path, lambda: ended.append(terminate_backends(database)))
        check_nothing_lost(study, tmp_path)
    # Each time, the workers' pooled connections (and the test's own) were really cut.
    assert all(count >= WORKERS for count in ended), ended


def _pg_restart_command() -> list[str] | None:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None or not versions:
        return None
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


@postgres
@pytest.mark.skipif(_pg_restart_command() is None, reason="restarting PostgreSQL needs root")
def test_workers_ride_out_a_postgresql_restart(tmp_path: Path) -> None:
    command = _pg_restart_command()
    assert command is not None

    def restart() -> None:
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    with scratch_database() as (url, _):
        study = run_under_faults(url, tmp_path, restart)
        check_nothing_lost(study, tmp_path)


def test_a_call_gives_up_after_max_wait_with_the_original_error() -> None:
    nowhere = sqlalchemy.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test")
    attempts = []

    def connect() -> None:
        attempts.append(time.monotonic())
        with nowhere.connect():
            pass

    started = time.monotonic()
    with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
        Reconnection(max_wait=1.0).call(connect)
    assert 0.5 < time.monotonic() - started < 1.5
    assert len(attempts) >= 3  # retried, with backoff, within the bound
    assert is_connection_error(raised.value)


def test_errors_other_than_a_lost_connection_are_not_retried() -> None:
    attempts = []

    def refuse() -> None:
        attempts.append(1)
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        Reconnection(max_wait=5.0).call(refuse)
    assert attempts == [1]


def test_a_worker_killed_inside_ask_leaves_a_trial_that_the_next_worker_fails_and_retries(
    tmp_path: Path,
) -> None:
    # Seen in the soak: a trial is RUNNING from its creation, but Optuna's heartbeat thread
    # starts only after ask() returns; a worker killed inside ask() (the sampler's
    # before_trial) left a trial that never beat, which Optuna never finds stale.
    rdb = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'hb.db'}",
        heartbeat_interval=1,
        grace_period=1,
        heartbeat_stale_trial_callback=StaleTrialHandler(max_retry=1),
    )
    storage = ReconnectingStorage(optuna.storages.get_storage(rdb))
    sampler = HammingGASampler(population_size=4, seed=0)
    study = optuna.create_study(storage=storage, direction="maximize", sampler=sampler)
    study.optimize(synthetic_objective, n_trials=2)
    created = storage.create_new_trial(study._study_id)  # died right after creating it
    study.enqueue_trial({"neurons": 64})
    (waiting,) = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)  # took it, died
    time.sleep(2.5)
    study.optimize(synthetic_objective, n_trials=2)  # this worker fails both and retries them
    trials = study.get_trials(deepcopy=False)
    for dead in (storage.get_trial(created), storage.get_trial(waiting._trial_id)):
        assert dead.state == TrialState.FAIL, dead.number
        (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
        assert retry.state == TrialState.COMPLETE
    assert not [t for t in trials if t.state == TrialState.RUNNING]


@contextmanager
def redis_with_aof(tmp_path: Path) -> Iterator[tuple[int, Callable[[], None]]]:
    """A redis-server of the test's own with an append-only file, and a way to restart it."""
    port = free_port()
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "yes", "--appendfsync", "always", "--dir", str(tmp_path),
    ]  # fmt: skip
    server = [subprocess.Popen(command, stdout=subprocess.DEVNULL)]

    def wait_up() -> None:
        deadline = time.monotonic() + 30
        while not reachable(port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)

    def restart() -> None:
        server[0].terminate()  # SIGTERM: Redis flushes the append-only file and exits
        server[0].wait(timeout=30)
        time.sleep(1.0)  # down for a while: the workers' calls fail and wait
        server.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        server.pop(0)
        wait_up()

    wait_up()
    try:
        yield port, restart
    finally:
        server[0].terminate()
        server[0].wait(timeout=30)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_workers_ride_out_a_redis_restart_under_journal_redis(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    with redis_with_aof(tmp_path) as (port, restart):
        url = f"journal-redis:redis://127.0.0.1:{port}"
        study = run_under_faults(url, tmp_path, restart)
        check_nothing_lost(study, tmp_path)
