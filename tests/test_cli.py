"""The optuna-hamming command line, end to end on real storages, MLflow stores and Keras."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest
from conftest import FinishedSearch, small_search, write_digit_features
from mlflow import MlflowClient

from optuna_hamming import HammingGASampler
from optuna_hamming.cli import main
from optuna_hamming.cli.search import CONFIG_ATTR, FINAL_ATTR


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def runs_by_role(tracking_uri: str, study_name: str) -> dict[str, list[mlflow.entities.Run]]:
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study_name)
    assert experiment is not None
    found: dict[str, list[mlflow.entities.Run]] = {}
    for run in client.search_runs([experiment.experiment_id], max_results=1000):
        found.setdefault(run.data.tags["optuna_hamming.role"], []).append(run)
    return found


def test_help_of_every_command() -> None:
    for command in ([], ["search"], ["show"], ["report"], ["dashboard"], ["ui"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
            main([*command, "--help"])
        assert exit_info.value.code == 0 and "usage: optuna-hamming" in out.getvalue()


@pytest.mark.keras
def test_search_logs_trials_generations_plots_and_a_reloadable_model(
    finished_search: FinishedSearch,
) -> None:
    search = finished_search
    study = optuna.load_study(study_name=search.study_name, storage=search.storage)
    generations = HammingGASampler.generations(study)
    assert len(generations) >= 2
    assert study.user_attrs[CONFIG_ATTR]["population"] == 4
    runs = runs_by_role(search.tracking_uri, search.study_name)
    assert len(runs["study"]) == 1 and runs["study"][0].info.status == "FINISHED"
    parent = runs["study"][0]
    assert {int(r.data.params["trial_number"]) for r in runs["trial"]} == {
        t.number for t in study.trials
    }
    for run in runs["trial"]:
        trial = study.trials[int(run.data.params["trial_number"])]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.metrics["macro_f1"] == pytest.approx(trial.value)
        assert run.data.params["ga.gene"] == trial.user_attrs["ga.gene"]
        for key in ("weighted_f1", "accuracy", "val_macro_f1", "val_loss", "loss"):
            assert key in run.data.metrics
    client = MlflowClient(search.tracking_uri)
    best = client.get_metric_history(parent.info.run_id, "generation.best")
    assert {m.step: m.value for m in best} == {g: s["best"] for g, s in generations.items()}
    final = study.user_attrs[FINAL_ATTR]
    assert final["trial"] == study.best_trial.number
    assert final["reload_agreement"] == 1.0
    (final_run,) = runs["final-model"]
    assert final_run.data.metrics["test_macro_f1"] == pytest.approx(final["test"]["macro_f1"])
    assert parent.data.metrics["test_macro_f1"] == pytest.approx(final["test"]["macro_f1"])
    mlflow.set_tracking_uri(search.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(final["model_uri"])
        assert model.metadata.signature is not None
        pixels = np.load(search.features)["X"][:5]
        probabilities = np.asarray(model.predict(pixels))
        keras_model = mlflow.keras.load_model(final["model_uri"])
    finally:
        mlflow.set_tracking_uri(None)
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(keras_model.predict(pixels, verbose=0), probabilities, rtol=1e-4)
    plots = {p.name for p in (search.reports / search.study_name).iterdir()}
    assert {"retained_fitness.png", "generation_0_scatter.png", "generation_1_scatter.png"} <= plots
    assert "optimization_history.png" in plots
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/retained_fitness.png" in logged
    assert "optuna-hamming ui" in search.output and "optuna-hamming dashboard" in search.output


@pytest.mark.keras
def test_show_and_report_read_the_study_back(finished_search: FinishedSearch) -> None:
    search = finished_search
    code, out, _ = run_cli("show", "--storage", search.storage, "--top", "3")
    assert code == 0
    study = optuna.load_study(study_name=search.study_name, storage=search.storage)
    assert f"study '{search.study_name}'" in out and "mean retained" in out
    assert study.best_trial.user_attrs["ga.gene"] in out and "final model: models:/" in out
    out_dir = search.root / "report"
    code, out, _ = run_cli(
        "report", "--storage", search.storage, "--tracking-uri", search.tracking_uri,
        "--out", str(out_dir),
    )  # fmt: skip
    assert code == 0
    assert (out_dir / search.study_name / "retained_fitness.png").stat().st_size > 10_000


def test_rerunning_the_command_continues_the_study(tmp_path: Path) -> None:
    search = small_search(tmp_path, "continued")
    assert run_cli(*search.argv("--generations", "1"))[0] == 0
    study = optuna.load_study(study_name="continued", storage=search.storage)
    first = [(t.number, t.params, t.value) for t in study.trials]
    code, out, _ = run_cli(*search.argv("--generations", "2"))
    assert code == 0 and "continuing" in out
    study = optuna.load_study(study_name="continued", storage=search.storage)
    assert [(t.number, t.params, t.value) for t in study.trials][: len(first)] == first
    assert len(study.trials) > len(first) and len(HammingGASampler.generations(study)) >= 2
    runs = runs_by_role(search.tracking_uri, "continued")
    assert len(runs["study"]) == 1 and len(runs["trial"]) == len(study.trials)
    assert len(runs["final-model"]) == 2  # one per completed command
    code, out, err = run_cli(*search.argv("--generations", "2", "--seed", "7"))
    assert code == 2 and "seed=0 (now 7)" in err and "another --study-name" in err


def test_bad_input_is_one_line_with_the_fix(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/optuna.db"
    base = ["search", "--storage", storage, "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]
    cases = [
        (["--data", "no-such-dataset"], "unknown dataset 'no-such-dataset'"),
        (["--backbone", "AlexNet"], "unknown backbone 'AlexNet'"),
        (["--weights", str(tmp_path / "missing.h5")], "does not exist"),
        (["--storage", "nosuchdb://x/y"], "cannot open the storage"),
        (["--tracking-uri", "http://127.0.0.1:9"], "unreachable"),
    ]
    for extra, message in cases:
        code, _, err = run_cli(*base, *extra)
        assert code == 2, (extra, err)
        assert message in err and "Traceback" not in err
    optuna.create_study(study_name="minimising", storage=storage, direction="minimize")
    code, _, err = run_cli(*base, "--study-name", "minimising", "--data", "digits")
    assert code == 2 and "minimises" in err
    other = optuna.create_study(study_name="other", storage=storage, direction="maximize")
    other.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    code, _, err = run_cli(*base, "--study-name", "other", "--data", "digits")
    assert code == 2 and "another search space" in err
    assert len(other.trials) == 1  # nothing done is lost
    code, _, err = run_cli("show", "--storage", storage)
    assert code == 2 and "several studies" in err
    code, _, err = run_cli("show", "--storage", storage, "--study-name", "typo")
    assert code == 2 and "no study 'typo'" in err and "minimising" in err
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(io.StringIO()):
        main(["search", "--population", "0"])
    assert exit_info.value.code == 2


@pytest.mark.slow
def test_ctrl_c_keeps_finished_trials_closes_the_run_and_a_rerun_continues(
    tmp_path: Path,
) -> None:
    features = write_digit_features(tmp_path / "pixels.npz")
    storage, tracking = f"sqlite:///{tmp_path}/optuna.db", f"sqlite:///{tmp_path}/mlflow.db"
    argv = [
        "search", "--data", str(features), "--storage", storage, "--tracking-uri", tracking,
        "--study-name", "interrupted", "--population", "4", "--generations", "2",
        "--max-epochs", "15", "--patience", "15", "--reports-dir", str(tmp_path / "r"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "optuna_hamming.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("trial    1"):
            break
    # Interrupt trial 2 while it trains: once its run exists, it is inside the objective.
    client = MlflowClient(tracking)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = client.search_runs(
            [client.get_experiment_by_name("interrupted").experiment_id],
            filter_string="params.trial_number = '2'",
        )
        if running:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "run the same command again to continue" in err
    study = optuna.load_study(study_name="interrupted", storage=storage)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.FAIL]
    runs = runs_by_role(tracking, "interrupted")
    assert runs["study"][0].info.status == "KILLED"
    status = {int(r.data.params["trial_number"]): r.info.status for r in runs["trial"]}
    assert status == {0: "FINISHED", 1: "FINISHED", 2: "KILLED"}
    changed = [a if a != "15" else "5" for a in argv]
    code, _, err = run_cli(*changed)
    assert code == 2 and "max_epochs=15 (now 5)" in err  # other options: refused
    code, out, _ = run_cli(*[a if a != "2" else "1" for a in argv])
    assert code == 0 and "continuing, 2 finished trials" in out
    study = optuna.load_study(study_name="interrupted", storage=storage)
    assert len(HammingGASampler.generations(study)) == 1


def test_four_jobs_train_heads_in_threads_each_logged_to_its_own_run(tmp_path: Path) -> None:
    search = small_search(tmp_path, "threads")
    code, _, err = run_cli(*search.argv("--generations", "2", "--n-jobs", "4"))
    assert code == 0, err
    study = optuna.load_study(study_name="threads", storage=search.storage)
    states = {t.state for t in study.trials}
    assert states == {optuna.trial.TrialState.COMPLETE}
    runs = runs_by_role(search.tracking_uri, "threads")
    parent = runs["study"][0].info.run_id
    assert len(runs["trial"]) == len(study.trials)
    for run in runs["trial"]:
        trial = study.trials[int(run.data.params["trial_number"])]
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.data.metrics["macro_f1"] == pytest.approx(trial.value)
        assert run.data.params["neurons"] == str(trial.params["neurons"])
        assert run.data.metrics["epochs"] == trial.user_attrs["epochs"]
