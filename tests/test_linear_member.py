"""The linear member: logistic regression as a Keras softmax layer, scored on the study's own
folds, picked by the greedy ensemble next to the heads, exported with them (issue 37)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import optuna
import pytest

from optuna_hamming import HammingGASampler
from optuna_hamming.data import FeatureSet, load_digits_images, stratified_splits
from optuna_hamming.vision import HeadObjective
from optuna_hamming.vision.ensemble import (
    linear_candidate,
    select_members,
    train_final_ensemble,
)
from optuna_hamming.vision.fitness import FitnessData
from optuna_hamming.vision.linear_member import (
    C_GRID,
    LINEAR_MEMBER,
    class_probabilities,
    fit_logistic_regression,
    linear_head,
)
from optuna_hamming.vision.scoring import predict_probabilities

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def digits() -> FeatureSet:
    images = load_digits_images()
    X = images.images[..., 0].reshape(len(images.images), -1).astype(np.float32) / 255.0
    X = X + np.random.default_rng(0).normal(0, 0.05, X.shape).astype(np.float32)
    return FeatureSet(X[:600], images.labels[:600], images.class_names, "digits-pixels")


@pytest.mark.parametrize("classes", [2, 10])
def test_the_softmax_layer_gives_scikit_learns_probabilities(
    digits: FeatureSet, classes: int
) -> None:
    keep = digits.y < classes
    X, y = digits.X[keep], digits.y[keep]
    regression = fit_logistic_regression(X, y, C=0.1)
    layer = linear_head(regression, classes)
    np.testing.assert_allclose(
        predict_probabilities(layer, X), regression.predict_proba(X), atol=1e-5
    )


@pytest.mark.parametrize("kept", [[0, 1, 2, 4, 5, 6, 7, 8, 9], [0, 1]])
def test_a_class_missing_from_the_fit_gets_no_probability(
    digits: FeatureSet, kept: list[int]
) -> None:
    keep = np.isin(digits.y, kept)  # two classes: scikit-learn's binary form
    regression = fit_logistic_regression(digits.X[keep], digits.y[keep], C=0.1)
    layer = linear_head(regression, 10)
    probabilities = predict_probabilities(layer, digits.X)
    missing = np.setdiff1d(np.arange(10), kept)
    np.testing.assert_allclose(probabilities[:, missing], 0.0, atol=1e-6)
    np.testing.assert_allclose(
        probabilities, class_probabilities(regression, digits.X, 10), atol=1e-5
    )


def test_the_ensemble_may_pick_the_linear_member_and_exports_it(
    digits: FeatureSet, tmp_path: Path
) -> None:
    splits = stratified_splits(digits.y, seed=0)
    objective = HeadObjective(
        digits, splits, max_epochs=3, patience=1, fitness="cv", folds=3, seed=0
    )
    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=4, seed=0)
    )
    study.optimize(objective, n_trials=4)
    linear = linear_candidate(digits, splits, folds=3, seed=0)
    assert linear.kind == LINEAR_MEMBER and linear.trial == -1 and linear.params["C"] in C_GRID
    # Its out-of-fold predictions are on the folds the trials were scored on: same images,
    # same order, each held out once.
    cv = FitnessData.of(digits, splits, fitness="cv", folds=3, seed=0).cv
    assert cv is not None and linear.oof.shape == (len(cv.y), 10)
    np.testing.assert_allclose(linear.oof.sum(axis=1), 1.0, atol=1e-5)
    # Three minutes of heads are far below a tuned logistic regression on pixels: the
    # greedy ensemble picks it, and scores at least as well as it alone out of fold.
    labels = digits.y[splits.train_and_validation]
    members, oof = select_members(study, labels, 5, [linear])
    assert any(m.candidate.kind == LINEAR_MEMBER for m in members)
    assert oof >= linear.value - 1e-9
    final = train_final_ensemble(members, digits, splits, oof_macro_f1=oof, seed=0)
    assert 0.0 < final.test.macro_f1 <= 1.0
    path = tmp_path / "ensemble.keras"
    final.head.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    test = digits.X[splits.test]
    np.testing.assert_allclose(
        predict_probabilities(reloaded, test), predict_probabilities(final.head, test), atol=1e-6
    )
