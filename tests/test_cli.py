"""The optuna-hamming command line, end to end on real storages, MLflow stores and Keras."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest
from conftest import FinishedSearch, small_search
from mlflow import MlflowClient

from optuna_hamming import HammingGASampler
from optuna_hamming.cli import main
from optuna_hamming.cli.common import CONFIG_ATTR, FINAL_ATTR
from optuna_hamming.names import ACCELERATED, RECOMMENDED_SCREENING, SAMPLER_ALIASES
from optuna_hamming.sampler.attributes import (
    GENE_ATTR,
    GENERATION_ATTR,
    SCREENED_ATTR,
    SETTINGS_KEY,
)
from optuna_hamming.tracking import trial_run_name
from optuna_hamming.tracking.dashboard_notes import generation_table, read_note
from tests.cli_helpers import run_cli, runs_by_role


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
        assert run.data.params[GENE_ATTR] == trial.user_attrs[GENE_ATTR]
        assert run.info.run_name == trial_run_name(trial.number, trial.params, trial.user_attrs)
        assert run.info.run_name.startswith(
            f"t{trial.number} g{trial.user_attrs[GENERATION_ATTR]} "
        )
        # The dataset input fills the UI's Dataset column; the link in the trial's note
        # goes to this run in the UI that `optuna-hamming ui` serves.
        (dataset,) = run.inputs.dataset_inputs
        assert dataset.dataset.name == Path(search.features).stem
        assert dataset.dataset.digest == parent.inputs.dataset_inputs[0].dataset.digest
        note = read_note(study, trial)
        assert (
            f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
            in note
        )
        for key in ("weighted_f1", "accuracy", "val_macro_f1", "val_loss", "loss"):
            assert key in run.data.metrics
    client = MlflowClient(search.tracking_uri)
    best = client.get_metric_history(parent.info.run_id, "generation.best")
    assert {m.step: m.value for m in best} == {g: s["best"] for g, s in generations.items()}
    final = study.user_attrs[FINAL_ATTR]
    assert final["trial"] == study.best_trial.number
    assert final["reload_agreement"] == 1.0
    (final_run,) = runs["final-model"]
    best_trial = study.best_trial
    assert final_run.data.params["trial"] == str(best_trial.number)
    assert final_run.data.params["genome"] == best_trial.user_attrs[GENE_ATTR]
    assert final_run.data.params["generation"] == str(best_trial.user_attrs[GENERATION_ATTR])
    assert read_note(study) == generation_table(generations)
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
    assert study.best_trial.user_attrs[GENE_ATTR] in out
    assert f"final model: trial {study.best_trial.number}'s genome, models:/" in out
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
    first_best = study.best_trial.number
    code, out, _ = run_cli(*search.argv("--generations", "2"))
    assert code == 0 and "continuing" in out
    study = optuna.load_study(study_name="continued", storage=search.storage)
    assert [(t.number, t.params, t.value) for t in study.trials][: len(first)] == first
    assert len(study.trials) > len(first) and len(HammingGASampler.generations(study)) >= 2
    runs = runs_by_role(search.tracking_uri, "continued")
    assert len(runs["study"]) == 1 and len(runs["trial"]) == len(study.trials)
    # A command whose best trial is the one already built reuses that final model.
    assert len(runs["final-model"]) == (1 if study.best_trial.number == first_best else 2)
    assert study.user_attrs[FINAL_ATTR]["trial"] == study.best_trial.number
    code, out, err = run_cli(*search.argv("--generations", "2", "--seed", "7"))
    assert code == 2 and "seed=0 (now 7)" in err and "another --study-name" in err


def test_the_accelerated_sampler_screens_the_heads_it_trains(tmp_path: Path) -> None:
    search = small_search(tmp_path, "screened")
    code, _, err = run_cli(*search.argv("--generations", "2", "--sampler", ACCELERATED))
    assert code == 0, err
    study = optuna.load_study(study_name="screened", storage=search.storage)
    assert study.user_attrs[CONFIG_ATTR]["sampler"] == ACCELERATED
    first, _ = HammingGASampler.generations(study).values()
    assert len(first["members"]) == 10  # SurrogateScreening's initial generation
    screened = [t for t in study.trials if SCREENED_ATTR in t.user_attrs]
    predicted = [t.user_attrs[SCREENED_ATTR]["predicted"] for t in screened]
    assert predicted == first["screening"]["predicted"] and len(screened) == 2  # lean()
    (study_run,) = runs_by_role(search.tracking_uri, "screened")["study"]
    assert study_run.data.params["sampler.screening"] == "SurrogateScreening"
    assert study_run.data.params["sampler.screening.children"] == "2"
    assert study.user_attrs[CONFIG_ATTR]["screening"] == RECOMMENDED_SCREENING
    # A study started before lean became recommended_sampler's and before the library
    # stored settings (a config without "screening", no stored settings, the sampler's old
    # name) continues with the four children a generation it started with: the CLI stores
    # them from its config, and the library keeps them (with a warning) against the lean
    # screening that --sampler accelerated now asks for.
    config = dict(study.user_attrs[CONFIG_ATTR])
    del config["screening"]
    (old_name,) = SAMPLER_ALIASES  # what --sampler accelerated was called then
    config["sampler"] = old_name
    study.set_user_attr(CONFIG_ATTR, config)
    study._storage.set_study_system_attr(study._study_id, SETTINGS_KEY, None)
    code, _, err = run_cli(*search.argv("--generations", "3", "--sampler", old_name))
    assert code == 0, err
    assert f"--sampler {old_name} is deprecated" in err and "keeps the sampler settings" in err
    summaries = HammingGASampler.generations(study)
    assert [len(s["screening"]["predicted"]) for s in list(summaries.values())[1:3]] == [2, 4]
    assert "screening" not in study.user_attrs[CONFIG_ATTR]  # it keeps meaning the defaults


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
