"""The Optuna objective on real features, the final model and the saved image classifier."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import optuna
import pytest

from optuna_hamming import HammingGASampler
from optuna_hamming.data import FeatureSet, load_digits_images, stratified_splits
from optuna_hamming.sampler.attributes import GENE_ATTR
from optuna_hamming.vision import HeadObjective, export_image_classifier, train_final_model
from optuna_hamming.vision.backbones import build_backbone
from optuna_hamming.vision.features import resize_images
from optuna_hamming.vision.heads import HeadGenome

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def digit_features() -> FeatureSet:
    images = load_digits_images()
    X = images.images[..., 0].reshape(len(images.images), -1).astype(np.float32) / 255.0
    return FeatureSet(X, images.labels, images.class_names, "digits-pixels")


def test_objective_reports_epochs_and_scores(digit_features: FeatureSet) -> None:
    splits = stratified_splits(digit_features.y, seed=0)
    objective = HeadObjective(digit_features, splits, max_epochs=15, patience=2, seed=0)
    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=4, seed=0)
    )
    study.optimize(objective, n_trials=6)
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert 0.0 <= trial.value <= 1.0
        assert trial.user_attrs["epochs"] == len(trial.intermediate_values)
        assert 1 <= trial.user_attrs["best_epoch"] <= trial.user_attrs["epochs"]
        assert set(trial.user_attrs) >= {"weighted_f1", "accuracy", "train_seconds", GENE_ATTR}
    assert study.best_value > 0.8


def test_pruners_can_stop_a_head(digit_features: FeatureSet) -> None:
    splits = stratified_splits(digit_features.y, seed=0)
    objective = HeadObjective(digit_features, splits, max_epochs=20, patience=5)
    study = optuna.create_study(
        direction="maximize",
        sampler=HammingGASampler(population_size=4, seed=0),
        pruner=optuna.pruners.ThresholdPruner(lower=1.5),  # macro F1 never reaches 1.5
    )
    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.PRUNED
        assert list(trial.intermediate_values) == [0]


def test_objective_arguments_are_checked(digit_features: FeatureSet) -> None:
    splits = stratified_splits(digit_features.y, seed=0)
    with pytest.raises(ValueError, match=r"max_epochs.*200"):
        HeadObjective(digit_features, splits, max_epochs=0)


def test_final_model_classifies_raw_images(digit_features: FeatureSet, tmp_path: Path) -> None:
    images = load_digits_images()
    backbone = build_backbone(weights=None, image_size=32)
    resized = resize_images(images.images[:300], (32, 32))
    features = backbone.model(resized, training=False)
    X = np.asarray(keras.ops.convert_to_numpy(features), dtype=np.float32)
    feature_set = FeatureSet(X, images.labels[:300], images.class_names, "digits-cnn")
    splits = stratified_splits(feature_set.y, seed=0)
    final = train_final_model(HeadGenome(64, 2, "relu", "adam"), feature_set, splits, epochs=3)
    assert set(final.report) >= {"0", "9", "macro avg", "weighted avg"}
    assert np.asarray(final.confusion).sum() == len(splits.test)
    path = export_image_classifier(backbone.model, final.head, (32, 32), tmp_path / "m.keras")
    loaded = keras.saving.load_model(path, safe_mode=True)
    raw = images.images[splits.test].astype(np.float32)  # 8x8 images, resized inside
    probabilities = np.asarray(keras.ops.convert_to_numpy(loaded(raw, training=False)))
    direct = np.asarray(keras.ops.convert_to_numpy(final.head(X[splits.test], training=False)))
    assert probabilities.shape == (len(splits.test), 10)
    np.testing.assert_allclose(probabilities, direct, rtol=1e-3, atol=1e-5)
    with pytest.raises(ValueError, match=r"\.keras"):
        export_image_classifier(backbone.model, final.head, (32, 32), tmp_path / "m.h5")
