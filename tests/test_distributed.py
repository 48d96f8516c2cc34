"""Many workers on one study: the storage lock, dead workers, retries, one MLflow parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import StaleTrialHandler
from optuna_hamming.paper import suggest_paper_genome, synthetic_head_score
from optuna_hamming.sampler.attributes import (
    CHILD_KEY,
    GENE_ATTR,
    GENERATION_ATTR,
    ORIGIN_ATTR,
    PARENTS_ATTR,
)
from optuna_hamming.storages import is_lock_study, lock_name, study_lock
from tests.helpers import (
    CROSS_PROCESS_STORAGE_KINDS,
    POSTGRES_URL,
    check_ga_history,
    make_storage,
    paper_objective,
    reachable,
    storage_spec,
)
from tests.worker_pool import ROOT, wait_all

CROSS_PROCESS_KINDS = CROSS_PROCESS_STORAGE_KINDS


@pytest.mark.parametrize("kind", CROSS_PROCESS_KINDS)
def test_lock_is_held_by_one_process_at_a_time(kind: str, tmp_path: Path) -> None:
    spec = storage_spec(kind, tmp_path)
    # Tables made before the workers start: four processes creating one fresh SQLite schema
    # at once trip over each other in Optuna's migrations, which is not what this tests.
    optuna.storages.get_storage(make_storage(spec))
    name, log = f"lock-{uuid.uuid4().hex}", tmp_path / "log.txt"
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.lock_worker", spec, name, str(log), "5"], cwd=ROOT
        )
        for _ in range(4)
    ]
    wait_all(workers, timeout=240)
    lines = log.read_text().split("\n")[:-1]
    assert len(lines) == 4 * 5 * 2
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        # Every "enter" is followed by the same process's "leave": no two held it at once.
        assert enter.split() == ["enter", leave.split()[1]] and leave.startswith("leave")
    storage = optuna.storages.get_storage(make_storage(spec))
    assert not any(is_lock_study(s.study_name) for s in storage.get_all_studies())


def test_a_held_lock_is_refused_without_waiting_and_free_after() -> None:
    storage = optuna.storages.InMemoryStorage()
    with study_lock(storage, "s", "k", wait=0, stale_after=60) as first:
        with study_lock(storage, "s", "k", wait=0, stale_after=60) as second:
            assert first and not second
        with study_lock(storage, "s", "other", wait=0, stale_after=60) as other:
            assert other
    with study_lock(storage, "s", "k", wait=0, stale_after=60) as again:
        assert again


def test_a_lock_left_by_a_dead_worker_is_broken_after_stale_after() -> None:
    storage = optuna.storages.InMemoryStorage()
    storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], lock_name("s", "k"))
    started = time.monotonic()
    with study_lock(storage, "s", "k", wait=10, stale_after=0.3) as held:
        assert held
    assert 0.3 <= time.monotonic() - started < 5


def test_threads_share_the_lock() -> None:
    storage = optuna.storages.InMemoryStorage()
    inside, most = [0], [0]
    guard = threading.Lock()

    def work() -> None:
        for _ in range(20):
            with study_lock(storage, "s", "k", wait=30, stale_after=30, poll=0.001):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.001)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1


def test_a_retried_trial_takes_the_dead_trials_place(tmp_path: Path) -> None:
    storage = RDBStorage(
        f"sqlite:///{tmp_path / 'hb.db'}",
        heartbeat_interval=1,
        grace_period=1,
        heartbeat_stale_trial_callback=StaleTrialHandler(max_retry=1),
    )
    study = optuna.create_study(
        storage=storage,
        direction="maximize",
        sampler=HammingGASampler(population_size=4, seed=1),
    )
    study.optimize(paper_objective, n_trials=5)  # generation 0, and one child of generation 1
    dead = study.ask()  # a worker starts the next child and dies: its heartbeat stops
    suggest_paper_genome(dead)
    storage.record_heartbeat(dead._trial_id)
    claim = storage.get_trial(dead._trial_id).system_attrs[CHILD_KEY]
    assert claim[0] == 1
    time.sleep(2.5)
    study.optimize(paper_objective, n_trials=8)
    trials = study.trials
    assert trials[dead.number].state == TrialState.FAIL
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert retry.state == TrialState.COMPLETE and retry.params == trials[dead.number].params
    assert retry.system_attrs[CHILD_KEY] == claim
    for key in (GENERATION_ATTR, ORIGIN_ATTR, PARENTS_ATTR, GENE_ATTR):
        assert retry.user_attrs[key] == trials[dead.number].user_attrs[key], key
    summaries = HammingGASampler.generations(study)
    assert retry.number in summaries[1]["members"]
    assert check_ga_history(study, 4) >= 3


@pytest.mark.skipif(not reachable(5432), reason="no PostgreSQL on 127.0.0.1:5432")
def test_a_worker_killed_mid_trial_is_retried_and_its_run_ends_failed(tmp_path: Path) -> None:
    name, n_complete = f"kill-{uuid.uuid4().hex}", 40
    url = POSTGRES_URL
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    optuna.create_study(
        study_name=name,
        storage=url,
        direction="maximize",
        sampler=HammingGASampler(population_size=6),
    )
    command = [sys.executable, "-m", "tests.tracked_worker", url, name, tracking]
    # The victim's heads "train" for 5 s, so the kill lands inside one.
    workers = [
        subprocess.Popen([*command, str(n_complete), pause], cwd=ROOT)
        for pause in ("5", "0.3", "0.3")
    ]
    victim = workers[0]
    study = optuna.load_study(study_name=name, storage=url)
    deadline = time.time() + 120
    dead_number = None
    while dead_number is None and time.time() < deadline:
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.user_attrs.get("pid") == victim.pid and len(study.trials) > 6:
                dead_number = t.number
                break
        time.sleep(0.05)
    assert dead_number is not None, "the victim never ran a trial"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    wait_all(workers[1:], timeout=240)

    trials = study.get_trials(deepcopy=False)
    dead = trials[dead_number]
    assert dead.state == TrialState.FAIL
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert n_complete <= len(complete) <= n_complete + 2
    for t in complete:  # every finished trial intact
        assert t.value == synthetic_head_score(t.params)
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead_number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert check_ga_history(study, 6) >= 5

    client = MlflowClient(tracking_uri=tracking)
    (experiment,) = client.search_experiments(filter_string=f"name = '{name}'")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags["optuna_hamming.role"] == "study"]
    assert len(parents) == 1  # three workers started at once, one parent run
    by_trial: dict[int, list] = {}
    for run in runs:
        if run.data.tags["optuna_hamming.role"] == "trial":
            assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
            by_trial.setdefault(int(run.data.tags["optuna.trial_number"]), []).append(run)
    started = [t.number for t in trials if t.state != TrialState.WAITING]
    assert sorted(by_trial) == started and all(len(r) == 1 for r in by_trial.values())
    (dead_run,) = by_trial[dead_number]
    assert dead_run.info.status == "FAILED" and "heartbeats" in dead_run.data.tags["error"]
    for t in complete:
        (run,) = by_trial[t.number]
        assert run.info.status == "FINISHED" and run.data.metrics["macro_f1"] == t.value
