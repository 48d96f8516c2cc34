"""An MLflow tracking server that goes down in the middle of a study, and comes back.

A real ``mlflow server`` on 127.0.0.1, stopped and started again by the objective itself at
chosen trials. MLflow's own HTTP retries are cut to none, so that an outage of seconds
outlasts them (the 5-minute outage belongs to ``benchmarks/fault_soak.py``).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.tracking import StudyTracker
from optuna_hamming.tracking._names import ROLE_TAG, TRIAL_TAG
from optuna_hamming.tracking.outage import LATE_TAG, UNLOGGED_ATTR, TrackingOutageWarning
from tests.helpers import paper_objective
from tests.worker_pool import free_port, wait_for

POPULATION = 4


class MlflowServer:
    """An ``mlflow server`` with a sqlite backend under ``root``, on one port for its life."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(f"{self.url}/health", seconds=120)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowServer:
    # MLflow's client would retry for minutes; here a refused request fails at once.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    mlflow_server = MlflowServer(tmp_path)
    mlflow_server.start()
    yield mlflow_server
    mlflow_server.stop()


def trial_runs(url: str, experiment_id: str) -> dict[int, list[object]]:
    runs = MlflowClient(url).search_runs([experiment_id], max_results=1000)
    by_trial: dict[int, list[object]] = {}
    for run in runs:
        if run.data.tags.get(ROLE_TAG) == "trial":
            by_trial.setdefault(int(run.data.tags[TRIAL_TAG]), []).append(run)
    return by_trial


def check_one_finished_run_per_trial(study: optuna.Study, url: str, experiment_id: str) -> None:
    runs = trial_runs(url, experiment_id)
    trials = study.get_trials()
    assert sorted(runs) == [t.number for t in trials]
    for trial in trials:
        assert trial.state == TrialState.COMPLETE  # no trial failed because MLflow was down
        (run,) = runs[trial.number]  # one run, never two
        assert run.info.status == "FINISHED"
        assert run.data.metrics["macro_f1"] == pytest.approx(trial.value)


def test_an_outage_longer_than_the_wait_is_written_once_the_server_is_back(
    server: MlflowServer,
) -> None:
    tracker = StudyTracker(tracking_uri=server.url, outage_wait=2.0)
    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=POPULATION, seed=0)
    )

    def objective(trial: optuna.Trial) -> float:
        if trial.number == 4:
            server.stop()  # mid-trial: its run exists, its outcome cannot be written
        if trial.number == 10:
            server.start()
        return paper_objective(trial)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(tracker.track(objective), n_trials=14)
        tracker.finish()
    outage = [w for w in caught if issubclass(w.category, TrackingOutageWarning)]
    assert len(outage) == 1, [str(w.message) for w in caught]
    assert tracker.experiment_id is not None
    check_one_finished_run_per_trial(study, server.url, tracker.experiment_id)
    unlogged = {t.number: t.user_attrs.get(UNLOGGED_ATTR) for t in study.trials}
    assert unlogged == {
        n: ("outcome" if n == 4 else "run" if 5 <= n <= 9 else None) for n in range(14)
    }
    runs = trial_runs(server.url, tracker.experiment_id)
    late = {n for n, (run,) in runs.items() if run.data.tags.get(LATE_TAG) == "true"}
    assert late == set(range(4, 11))  # trial 10 waited for the server and wrote at once
    # The generations that closed during the outage reached the parent run too.
    assert tracker.parent_run_id is not None
    steps = [
        int(m.step)
        for m in MlflowClient(server.url).get_metric_history(
            tracker.parent_run_id, "generation.best"
        )
    ]
    assert sorted(steps) == list(HammingGASampler.generations(study))


def test_a_short_outage_is_waited_out_without_a_warning(server: MlflowServer) -> None:
    tracker = StudyTracker(tracking_uri=server.url, outage_wait=120.0)
    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=POPULATION, seed=1)
    )

    def objective(trial: optuna.Trial) -> float:
        if trial.number == 2:
            server.stop()
            threading.Timer(2.0, server.start).start()  # back while trial 2 waits
        return paper_objective(trial)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(tracker.track(objective), n_trials=6)
        tracker.finish()
    assert not [w for w in caught if issubclass(w.category, TrackingOutageWarning)]
    assert tracker.experiment_id is not None
    check_one_finished_run_per_trial(study, server.url, tracker.experiment_id)
    assert all(UNLOGGED_ATTR not in t.user_attrs for t in study.trials)


def test_runs_left_unlogged_at_the_end_are_written_by_the_next_tracker(
    server: MlflowServer, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(
        storage=storage,
        direction="maximize",
        sampler=HammingGASampler(population_size=POPULATION, seed=2),
    )
    tracker = StudyTracker(tracking_uri=server.url, outage_wait=1.0)

    def objective(trial: optuna.Trial) -> float:
        if trial.number == 2:
            server.stop()  # and it stays down until this process's study is over
        return paper_objective(trial)

    with pytest.warns(UserWarning, match="could not be written"):
        study.optimize(tracker.track(objective), n_trials=5)
        tracker.finish()
    assert [t.user_attrs.get(UNLOGGED_ATTR) for t in study.trials] == [
        None, None, "outcome", "run", "run",
    ]  # fmt: skip
    server.start()
    again = StudyTracker(tracking_uri=server.url)  # e.g. the study resumed the next day
    again.start(optuna.load_study(study_name=study.study_name, storage=storage))
    again.finish()
    assert again.experiment_id == tracker.experiment_id is not None
    check_one_finished_run_per_trial(study, server.url, again.experiment_id)
