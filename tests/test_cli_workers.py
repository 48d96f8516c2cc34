"""`optuna-hamming search` started as four workers of one study on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from conftest import write_digit_features
from mlflow import MlflowClient

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import open_storage
from optuna_hamming.sampler.attributes import CHILD_KEY
from optuna_hamming.vision import await_running_trials
from tests.helpers import POSTGRES_URL, check_ga_history, reachable
from tests.worker_pool import ROOT, mlflow_server


# Not marked keras: the JAX pass of `make test` would spend another minute on what the
# Keras tests already cover; this test is about the workers.
@pytest.mark.skipif(not reachable(5432), reason="no PostgreSQL on 127.0.0.1:5432")
def test_four_cli_workers_share_one_study_and_one_parent_run(tmp_path: Path) -> None:
    name = f"workers-{uuid.uuid4().hex[:8]}"
    features = write_digit_features(tmp_path / "pixels.npz")
    with mlflow_server(tmp_path / "mlflow") as tracking:
        argv = [
            sys.executable, "-m", "optuna_hamming.cli", "search",
            "--data", str(features), "--storage", POSTGRES_URL, "--study-name", name,
            "--tracking-uri", tracking, "--reports-dir", str(tmp_path / "reports"),
            "--population", "4", "--generations", "2", "--max-epochs", "4", "--patience", "1",
        ]  # fmt: skip
        workers = [
            subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        outputs = [w.communicate(timeout=400) for w in workers]
        for worker, (_, err) in zip(workers, outputs, strict=True):
            assert worker.returncode == 0, err.decode()[-3000:]
        client = MlflowClient(tracking)
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id], max_results=1000)

    text = [out.decode() for out, _ in outputs]
    assert sum("final model (trial" in t for t in text) == 1  # built by one worker only
    study = optuna.load_study(study_name=name, storage=POSTGRES_URL)
    assert check_ga_history(study, 4) >= 2
    assert len(HammingGASampler.generations(study)) >= 2
    claims = [tuple(t.system_attrs[CHILD_KEY]) for t in study.trials]
    assert len(claims) - len(set(claims)) <= 2  # see test_storages on rare double claims
    roles: dict[str, list] = {}
    for run in runs:
        roles.setdefault(run.data.tags["optuna_hamming.role"], []).append(run)
    assert len(roles["study"]) == 1 and len(roles["final-model"]) == 1
    numbers = sorted(int(r.data.tags["optuna.trial_number"]) for r in roles["trial"])
    assert numbers == [t.number for t in study.trials]  # each trial logged exactly once
    parent = roles["study"][0].info.run_id
    assert all(r.data.tags["mlflow.parentRunId"] == parent for r in roles["trial"])


@pytest.mark.skipif(not reachable(5432), reason="no PostgreSQL on 127.0.0.1:5432")
def test_workers_opening_an_empty_postgresql_database_together_all_get_the_storage() -> None:
    """Each worker creates Optuna's tables on first contact; on an empty PostgreSQL database
    the losers of that race failed with a duplicate pg_type key before open_storage retried."""
    database = f"race_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {database}"))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}"
    storages: list[optuna.storages.BaseStorage] = []
    try:
        with ThreadPoolExecutor(8) as pool:
            storages += pool.map(lambda _: open_storage(url), range(8))
        study_id = storages[0].create_new_study([optuna.study.StudyDirection.MAXIMIZE], "race")
        assert all(s.get_study_id_from_name("race") == study_id for s in storages)
    finally:
        for storage in storages:  # closed, or DROP DATABASE would wait on their connections
            while not hasattr(storage, "engine"):  # under ReconnectingStorage, _CachedStorage
                storage = storage._backend  # type: ignore[attr-defined]
            storage.engine.dispose()  # type: ignore[attr-defined]
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f"DROP DATABASE {database} WITH (FORCE)"))
        admin.dispose()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_the_final_model_waits_for_the_heads_other_workers_are_training(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(storage=open_storage(url, heartbeat=1), direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    other = optuna.load_study(study_name=study.study_name, storage=open_storage(url, heartbeat=1))
    last = other.ask()  # another worker's last head, still training

    def finish_later() -> float:
        time.sleep(2.0)
        late = study.ask()  # started after the wait began: a worker with a further target
        other.tell(last, 2.0)  # the head that becomes the best
        return float(late.number)

    with ThreadPoolExecutor(1) as pool:
        started = time.perf_counter()
        future = pool.submit(finish_later)
        assert await_running_trials(study, poll=0.1) == 1
        waited = time.perf_counter() - started
        late = future.result()
    assert waited >= 2.0
    assert study.best_trial.number == last.number  # the final model is planned from it
    assert study.trials[int(late)].state == optuna.trial.TrialState.RUNNING  # not waited for
    # Without heartbeats a dead worker's trial would look running for ever: no wait.
    plain = optuna.create_study(storage=f"sqlite:///{tmp_path / 'plain.db'}")
    plain.ask()
    assert await_running_trials(plain) == 0


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_the_final_model_does_not_wait_for_the_trials_of_dead_workers(tmp_path: Path) -> None:
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'dead.db'}", heartbeat_interval=1, grace_period=1
    )
    study = optuna.create_study(storage=storage)
    silent = study.ask()  # its worker died before the trial's first heartbeat
    stale = study.ask()
    storage.record_heartbeat(stale._trial_id)  # its worker died after one heartbeat
    started = time.perf_counter()
    assert await_running_trials(study, poll=0.2) == 2
    assert time.perf_counter() - started < 10
    trials = study.get_trials(deepcopy=False)
    assert trials[stale.number].state == optuna.trial.TrialState.FAIL  # as optimize would
    assert trials[silent.number].state == optuna.trial.TrialState.RUNNING  # left as it is
