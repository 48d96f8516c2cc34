"""`search --fitness cv --final ensemble` end to end: real SQLite storage, real MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import optuna
import pytest
from conftest import small_search
from mlflow import MlflowClient

from optuna_hamming.cli.common import CONFIG_ATTR, FINAL_ATTR
from optuna_hamming.vision.fitness import FOLD_MACRO_F1_ATTR
from tests.cli_helpers import run_cli, runs_by_role

# Not marked keras: the JAX pass of `make test` runs the ensemble's Keras tests
# (test_fitness_ensemble.py); this one is about the command line, MLflow and the storage.

FLAGS = ("--generations", "1", "--fitness", "cv", "--folds", "2")
ENSEMBLE = ("--final", "ensemble", "--ensemble-size", "4")


def test_cv_search_builds_logs_and_reloads_an_ensemble(tmp_path: Path) -> None:
    search = small_search(tmp_path, "digits-cv")
    code, out, err = run_cli(*search.argv(*FLAGS, *ENSEMBLE))
    assert code == 0, err
    assert "training the final ensemble" in out and "an ensemble of" in out
    study = optuna.load_study(study_name="digits-cv", storage=search.storage)
    assert study.user_attrs[CONFIG_ATTR]["fitness"] == "cv"
    assert study.user_attrs[CONFIG_ATTR]["folds"] == 2
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        assert len(trial.user_attrs[FOLD_MACRO_F1_ATTR]) == 2
    final = study.user_attrs[FINAL_ATTR]
    assert final["final"] == "ensemble" and final["key"].startswith("ensemble:")
    assert 1 <= sum(m["picks"] for m in final["members"]) <= 4
    assert sum(m["weight"] for m in final["members"]) == pytest.approx(1.0)
    assert final["reload_agreement"] == 1.0

    runs = runs_by_role(search.tracking_uri, "digits-cv")
    (model_run,) = runs["final-model"]
    params = model_run.data.params
    assert params["final"] == "ensemble" and params["ensemble_size"] == "4"
    assert params["member_trials"] == ",".join(str(m["trial"]) for m in final["members"])
    client = MlflowClient(search.tracking_uri)
    local = client.download_artifacts(model_run.info.run_id, "ensemble.json", str(tmp_path))
    logged = json.loads(Path(local).read_text())["members"]
    assert [m["trial"] for m in logged] == [m["trial"] for m in final["members"]]
    assert all(0.0 <= m["cv_macro_f1"] <= 1.0 for m in logged)
    # Each trial's run holds its per-fold scores, one step per fold.
    trial_run = runs["trial"][0]
    history = client.get_metric_history(trial_run.info.run_id, "fold_macro_f1")
    assert sorted(m.step for m in history) == [0, 1]
    # The logged model reloads through pyfunc and gives class probabilities.
    mlflow.set_tracking_uri(search.tracking_uri)
    model = mlflow.pyfunc.load_model(final["model_uri"])
    X = np.load(search.features)["X"][:5]
    probabilities = np.asarray(model.predict(X))
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)

    code, shown, err = run_cli("show", "--storage", search.storage, "--study-name", "digits-cv")
    assert code == 0 and "final model: an ensemble of trials" in shown, err

    # The same command again finds the ensemble built and trains nothing.
    code, again, err = run_cli(*search.argv(*FLAGS, *ENSEMBLE))
    assert code == 0, err
    assert "is built" in again and "training the final ensemble" not in again
    assert len(runs_by_role(search.tracking_uri, "digits-cv")["final-model"]) == 1
