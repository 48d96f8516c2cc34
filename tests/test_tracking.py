"""MLflow tracking against a real sqlite tracking store in a temporary directory."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import optuna
import pytest
from mlflow.entities import Run

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import StaleTrialHandler
from optuna_hamming.paper import suggest_paper_genome, synthetic_objective
from optuna_hamming.sampler.attributes import GENE_ATTR, GENERATION_ATTR, ORIGIN_ATTR
from optuna_hamming.tracking import StudyTracker, TrackingError
from optuna_hamming.tracking._names import redact


def _uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/mlflow.db"


def _runs(tracker: StudyTracker, role: str) -> list[Run]:
    assert tracker.experiment_id is not None
    runs = tracker.client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.`optuna_hamming.role` = '{role}'"
    )
    return sorted(runs, key=lambda r: int(r.data.tags.get("optuna.trial_number", -1)))


def _study(population: int = 6, seed: int = 0) -> tuple[optuna.Study, HammingGASampler]:
    sampler = HammingGASampler(population_size=population, seed=seed)
    study = optuna.create_study(study_name="tracked", direction="maximize", sampler=sampler)
    return study, sampler


def test_every_trial_is_a_child_run_with_its_genome_and_scores(tmp_path: Path) -> None:
    study, sampler = _study()
    tracker = StudyTracker(tracking_uri=_uri(tmp_path), run_params={"dataset": "synthetic"})

    def objective(trial: optuna.Trial) -> float:
        value = synthetic_objective(trial)
        trial.set_user_attr("curves", {"val_loss": [1.0, 0.5, 0.25]})
        trial.set_user_attr("accuracy", value / 2)
        return value

    study.optimize(tracker.track(objective), n_trials=18)
    sampler.close_finished_generations(study)
    closed = tracker.log_generations(study)
    parent = _runs(tracker, "study")
    assert len(parent) == 1 and parent[0].data.params["dataset"] == "synthetic"
    children = _runs(tracker, "trial")
    assert len(children) == len(study.trials) == 18
    for run, trial in zip(children, study.trials, strict=True):
        assert run.data.tags["mlflow.parentRunId"] == parent[0].info.run_id
        assert run.info.status == "FINISHED" and run.data.tags["optuna.state"] == "COMPLETE"
        assert run.data.params["trial_number"] == str(trial.number)
        assert run.data.params["neurons"] == str(trial.params["neurons"])
        assert run.data.params[GENE_ATTR] == trial.user_attrs[GENE_ATTR]
        assert run.data.params[ORIGIN_ATTR] == trial.user_attrs[ORIGIN_ATTR]
        assert run.data.params[GENERATION_ATTR] == str(trial.user_attrs[GENERATION_ATTR])
        assert run.data.metrics["macro_f1"] == pytest.approx(trial.value)
        assert run.data.metrics["accuracy"] == pytest.approx(trial.value / 2)
        history = tracker.client.get_metric_history(run.info.run_id, "val_loss")
        assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    generations = HammingGASampler.generations(study)
    assert len(generations) >= 3 and set(closed) <= set(generations)
    best = tracker.client.get_metric_history(parent[0].info.run_id, "generation.best")
    assert {m.step: m.value for m in best} == {g: s["best"] for g, s in generations.items()}
    admitted = tracker.client.get_metric_history(parent[0].info.run_id, "generation.admitted")
    assert {m.step: m.value for m in admitted} == {
        g: len(s["selected"]) for g, s in generations.items()
    }


def test_threads_train_at_once_each_in_its_own_run(tmp_path: Path) -> None:
    """Four trials must be inside the objective together (a lock around trials, as in
    optuna-integration's MLflowCallback, would time the barrier out)."""
    study, _ = _study(population=8)
    tracker = StudyTracker(tracking_uri=_uri(tmp_path))
    barrier = threading.Barrier(4, timeout=60)
    threads: dict[int, int] = {}

    def objective(trial: optuna.Trial) -> float:
        params = suggest_paper_genome(trial)
        if trial.number < 4:
            barrier.wait()
        threads[trial.number] = threading.get_ident()
        return float(params["neurons"] + trial.number)

    study.optimize(tracker.track(objective), n_trials=12, n_jobs=4)
    assert len(set(threads[n] for n in range(4))) == 4
    children = _runs(tracker, "trial")
    assert len(children) == 12
    parent_id = _runs(tracker, "study")[0].info.run_id
    for run in children:
        trial = study.trials[int(run.data.params["trial_number"])]
        assert run.data.tags["mlflow.parentRunId"] == parent_id
        assert run.data.metrics["macro_f1"] == trial.value
        assert run.data.params["neurons"] == str(trial.params["neurons"])


def test_a_failing_trial_leaves_a_failed_run_and_ctrl_c_a_killed_one(tmp_path: Path) -> None:
    study, _ = _study()
    tracker = StudyTracker(tracking_uri=_uri(tmp_path))

    def objective(trial: optuna.Trial) -> float:
        suggest_paper_genome(trial)
        if trial.number == 1:
            raise ValueError("head diverged")
        if trial.number == 3:
            raise KeyboardInterrupt
        if trial.number == 2:
            return float("nan")
        return 0.5

    study.optimize(tracker.track(objective), n_trials=2, catch=(ValueError,))
    with pytest.raises(KeyboardInterrupt):
        study.optimize(tracker.track(objective), n_trials=5)
    runs = {int(r.data.params["trial_number"]): r for r in _runs(tracker, "trial")}
    assert sorted(runs) == [0, 1, 2, 3]
    assert runs[0].info.status == "FINISHED" and runs[0].data.metrics["macro_f1"] == 0.5
    assert runs[1].info.status == "FAILED"
    assert runs[1].data.tags["error"] == "ValueError: head diverged"
    assert runs[2].info.status == "FAILED" and "macro_f1" not in runs[2].data.metrics
    assert runs[3].info.status == "KILLED"
    assert runs[1].data.params["neurons"] == str(study.trials[1].params["neurons"])


def test_a_dead_workers_trial_gets_one_failed_run_even_if_it_died_before_saying_so(
    tmp_path: Path,
) -> None:
    # Seen in the soak: a worker killed while it wrote late runs at a trial's start had made
    # no run for that trial yet, and the trial ended FAIL without one.
    handler = StaleTrialHandler(max_retry=0)
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'hb.db'}",
        heartbeat_interval=1,
        grace_period=1,
        heartbeat_stale_trial_callback=handler,
    )
    sampler = HammingGASampler(population_size=4, seed=0)
    study = optuna.create_study(storage=storage, direction="maximize", sampler=sampler)
    tracker = StudyTracker(tracking_uri=_uri(tmp_path))
    handler.tracker = tracker
    tracked = tracker.track(synthetic_objective)
    study.optimize(tracked, n_trials=2)
    parent = tracker.start(study)
    no_run, unrecorded = study.ask(), study.ask()  # workers that start trials and die
    for trial in (no_run, unrecorded):
        suggest_paper_genome(trial)
        storage.record_heartbeat(trial._trial_id)
    # This one died after its run was made but before the trial named it.
    made = tracker.runs.create(study, unrecorded.number, {}, parent)
    time.sleep(2.5)
    study.optimize(tracked, n_trials=1)  # this worker finds both stale and fails them
    runs: dict[int, list[Run]] = {}
    for run in _runs(tracker, "trial"):
        runs.setdefault(int(run.data.tags["optuna.trial_number"]), []).append(run)
    assert sorted(runs) == [0, 1, 2, 3, 4] and all(len(r) == 1 for r in runs.values())
    assert runs[unrecorded.number][0].info.run_id == made
    for number in (no_run.number, unrecorded.number):
        (run,) = runs[number]
        assert study.trials[number].state == optuna.trial.TrialState.FAIL
        assert run.info.status == "FAILED", number
        assert run.data.tags["optuna.state"] == "FAIL"
        assert "stopped sending heartbeats" in run.data.tags["error"]
        assert "optuna_hamming.logged_late" not in run.data.tags
        assert run.data.params["neurons"] == str(study.trials[number].params["neurons"])


def test_the_callback_logs_an_objective_it_does_not_wrap(tmp_path: Path) -> None:
    study, _ = _study()
    tracker = StudyTracker(tracking_uri=_uri(tmp_path), metric_name="score")

    def objective(trial: optuna.Trial) -> float:
        value = synthetic_objective(trial)
        trial.report(value / 2, 0)
        trial.report(value, 1)
        return value

    study.optimize(objective, n_trials=13, callbacks=[tracker])
    children = _runs(tracker, "trial")
    assert [int(r.data.params["trial_number"]) for r in children] == list(range(13))
    for run, trial in zip(children, study.trials, strict=True):
        assert run.data.metrics["score"] == pytest.approx(trial.value)
        assert run.data.params[GENE_ATTR] == trial.user_attrs[GENE_ATTR]
        steps = tracker.client.get_metric_history(run.info.run_id, "intermediate_value")
        assert [m.step for m in steps] == [0, 1]
    parent = _runs(tracker, "study")[0]
    best = tracker.client.get_metric_history(parent.info.run_id, "generation.best")
    assert sorted(m.step for m in best) == sorted(HammingGASampler.generations(study))


def test_a_continued_study_reuses_its_parent_run_and_logs_each_generation_once(
    tmp_path: Path,
) -> None:
    storage = f"sqlite:///{tmp_path}/optuna.db"
    uri = _uri(tmp_path)
    ids = []
    for _ in range(2):
        sampler = HammingGASampler(population_size=6, seed=1)
        study = optuna.create_study(
            study_name="continued",
            storage=storage,
            direction="maximize",
            sampler=sampler,
            load_if_exists=True,
        )
        tracker = StudyTracker(tracking_uri=uri)
        study.optimize(tracker.track(synthetic_objective), n_trials=10)
        sampler.close_finished_generations(study)
        tracker.log_generations(study)
        tracker.finish()
        ids.append(tracker.parent_run_id)
    assert ids[0] == ids[1]
    assert len(_runs(tracker, "study")) == 1 and len(_runs(tracker, "trial")) == 20
    best = tracker.client.get_metric_history(ids[0], "generation.best")
    steps = [m.step for m in best]
    assert len(steps) == len(set(steps)) == len(HammingGASampler.generations(study))
    assert tracker.client.get_run(ids[0]).info.status == "FINISHED"


def test_an_unusable_tracking_uri_is_a_clear_error_before_any_trial(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    study, _ = _study()
    tracker = StudyTracker(tracking_uri=f"sqlite:///{blocker}/mlflow.db")
    with pytest.raises(TrackingError, match="writable --tracking-uri"):
        tracker.start(study)
    assert study.trials == []


def test_storage_passwords_stay_out_of_tags() -> None:
    assert redact("postgresql://me:secret@db:5432/x") == "postgresql://me@db:5432/x"
    assert redact("sqlite:///a.db") == "sqlite:///a.db"


def test_tracking_uri_follows_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from optuna_hamming.tracking import resolve_tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == "sqlite:///mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert resolve_tracking_uri() == "sqlite:///elsewhere.db"
    assert resolve_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
