"""CV fitness and the greedy ensemble: real Keras training on digit pixels, real storages."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from optuna_hamming import HammingGASampler
from optuna_hamming.data import FeatureSet, load_digits_images, stratified_splits
from optuna_hamming.vision import HeadObjective, export_image_classifier
from optuna_hamming.vision.backbones import build_backbone
from optuna_hamming.vision.ensemble import (
    EnsembleError,
    Member,
    candidates_of,
    greedy_selection,
    select_members,
    train_final_ensemble,
)
from optuna_hamming.vision.features import resize_images
from optuna_hamming.vision.fitness import (
    FOLD_MACRO_F1_ATTR,
    OOF_ATTR,
    cv_folds,
    decode_probabilities,
    encode_probabilities,
)


@pytest.fixture(scope="module")
def digit_features() -> FeatureSet:
    images = load_digits_images()
    X = images.images[..., 0].reshape(len(images.images), -1).astype(np.float32) / 255.0
    keep = np.arange(0, len(X), 3)  # 600 digits: quick heads
    return FeatureSet(X[keep], images.labels[keep], images.class_names, "digits-pixels")


def test_folds_are_stratified_partitions_drawn_by_the_seed() -> None:
    y = np.repeat(np.arange(3), [10, 7, 5])
    folds = cv_folds(y, 5, seed=0)
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(len(y)))  # each example held out once
    for fit, out in folds:
        assert set(fit).isdisjoint(out)
        assert np.bincount(y[out], minlength=3).min() >= 1
    again = cv_folds(y, 5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other = cv_folds(y, 5, seed=1)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=True))


def test_too_many_folds_for_the_smallest_class_names_the_fix() -> None:
    y = np.repeat(np.arange(2), [10, 3])
    with pytest.raises(ValueError, match=r"class 1 has 3 .* pass folds=3 or fewer"):
        cv_folds(y, 5, seed=0)


@given(st.integers(1, 30), st.integers(2, 6), st.integers(0, 2**31))
@settings(max_examples=25, deadline=None)
def test_probabilities_survive_storage_to_float16_precision(n: int, c: int, seed: int) -> None:
    p = np.random.default_rng(seed).dirichlet(np.ones(c), size=n).astype(np.float32)
    back = decode_probabilities(encode_probabilities(p))
    assert back.shape == p.shape
    assert np.abs(back - p).max() <= 1e-3


def test_greedy_selection_on_a_hand_checked_library() -> None:
    y = np.array([0, 0, 1, 1])
    a = np.array([[0.9, 0.1], [0.95, 0.05], [0.7, 0.3], [0.7, 0.3]])  # F1 1/3: all class 0
    b = np.array([[0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]])  # F1 1/3: all class 1
    c = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.4, 0.6]])  # F1 0.733: one wrong
    # Step 1 takes c, the best alone. Step 2: c+a labels 0,0,0,0 (1/3); c+b 0,1,1,1 (0.733,
    # tie with c+c) -> b comes before c, so b. Step 3: c+b+a = [2.2,.8],[1.55,1.45],
    # [1.2,1.8],[1.2,1.8] -> 0,0,1,1 (F1 1.0); c+b+b and c+b+c keep 0,1,1,1.
    assert greedy_selection([a, b, c], y, 3) == [1, 1, 1]
    assert greedy_selection([a, b, c], y, 1) == [0, 0, 1]
    # The best step's picks are kept: after c, every addition scores at most c's 0.733, and a
    # tie is no gain, so ten steps return the one pick (not ten picks of c).
    assert greedy_selection([c, a], y, 10) == [1, 0]
    with pytest.raises(EnsembleError, match="ensemble_size"):
        greedy_selection([a], y, 0)


@pytest.mark.keras
def test_cv_fitness_is_the_mean_over_folds_and_stores_out_of_fold_predictions(
    digit_features: FeatureSet, tmp_path: Path
) -> None:
    splits = stratified_splits(digit_features.y, seed=0)
    objective = HeadObjective(
        digit_features, splits, max_epochs=4, patience=1, seed=0, fitness="cv", folds=3
    )
    storage = f"sqlite:///{tmp_path / 'cv.db'}"
    study = optuna.create_study(
        storage=storage,
        direction="maximize",
        sampler=HammingGASampler(population_size=4, seed=0),
    )
    study.optimize(objective, n_trials=4)
    labels = digit_features.y[splits.train_and_validation]
    for trial in study.trials:
        folds = trial.user_attrs[FOLD_MACRO_F1_ATTR]
        assert len(folds) == 3
        assert trial.value == pytest.approx(np.mean(folds), abs=1e-5)
        assert sorted(trial.intermediate_values) == [0, 1, 2]  # one report per fold
        oof = decode_probabilities(trial.user_attrs[OOF_ATTR])
        assert oof.shape == (len(labels), 10)
        np.testing.assert_allclose(oof.sum(axis=1), 1.0, atol=1e-2)
        pooled = f1_score(labels, oof.argmax(axis=1), average="macro")
        assert trial.user_attrs["oof_macro_f1"] == pytest.approx(pooled, abs=1e-2)
    # Another process reading the same storage chooses the same ensemble.
    reloaded = optuna.load_study(study_name=study.study_name, storage=storage)
    members, oof_f1 = select_members(reloaded, labels, 5)
    again, _ = select_members(study, labels, 5)
    assert [(m.candidate.trial, m.count) for m in members] == [
        (m.candidate.trial, m.count) for m in again
    ]
    assert 1 <= sum(m.count for m in members) <= 5  # the best of up to five greedy steps
    best_alone = max(
        f1_score(labels, m.candidate.oof.argmax(axis=1), average="macro") for m in members
    )
    assert oof_f1 >= best_alone - 1e-9  # greedy step 1 is the best alone; F1 never drops below


@pytest.mark.keras
def test_pruners_stop_a_cv_trial_between_folds(digit_features: FeatureSet) -> None:
    splits = stratified_splits(digit_features.y, seed=0)
    objective = HeadObjective(
        digit_features, splits, max_epochs=3, patience=1, fitness="cv", folds=3
    )
    study = optuna.create_study(
        direction="maximize",
        sampler=HammingGASampler(population_size=4, seed=0),
        pruner=optuna.pruners.ThresholdPruner(lower=1.5),
    )
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]
    assert len(trial.user_attrs[FOLD_MACRO_F1_ATTR]) == 1


@pytest.mark.keras
def test_an_ensemble_needs_cv_fitness(digit_features: FeatureSet) -> None:
    splits = stratified_splits(digit_features.y, seed=0)
    objective = HeadObjective(digit_features, splits, max_epochs=2, patience=1)
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1)
    labels = digit_features.y[splits.train_and_validation]
    with pytest.raises(EnsembleError, match="fitness='cv'"):
        select_members(study, labels, 3)


@pytest.mark.keras
def test_the_ensemble_exports_as_one_image_classifier_that_reloads_safely(
    tmp_path: Path,
) -> None:
    images = load_digits_images()
    keep = np.arange(0, len(images.labels), 6)
    backbone = build_backbone(weights=None, image_size=32)
    resized = resize_images(images.images[keep], (32, 32))
    X = np.asarray(keras.ops.convert_to_numpy(backbone.model(resized, training=False)))
    features = FeatureSet(X.astype(np.float32), images.labels[keep], images.class_names, "cnn")
    splits = stratified_splits(features.y, seed=0)
    objective = HeadObjective(
        features, splits, max_epochs=2, patience=1, seed=0, fitness="cv", folds=2
    )
    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=4, seed=0)
    )
    study.optimize(objective, n_trials=3)
    labels = features.y[splits.train_and_validation]
    chosen, oof_f1 = select_members(study, labels, 4)
    assert chosen and sum(m.count for m in chosen) <= 4
    # Export two members, one picked twice, whatever greedy chose: the repeated output is
    # what must survive saving and safe_mode loading.
    first, second = candidates_of(study)[:2]
    members = [Member(first, 2), Member(second, 1)]
    final = train_final_ensemble(members, features, splits, oof_macro_f1=oof_f1, seed=0)
    assert np.asarray(final.confusion).sum() == len(splits.test)
    path = export_image_classifier(backbone.model, final.head, (32, 32), tmp_path / "e.keras")
    loaded = keras.saving.load_model(path, safe_mode=True)
    raw = images.images[keep][splits.test].astype(np.float32)
    reloaded = np.asarray(keras.ops.convert_to_numpy(loaded(raw, training=False)))
    direct = np.asarray(keras.ops.convert_to_numpy(final.head(X[splits.test], training=False)))
    np.testing.assert_allclose(reloaded, direct, atol=1e-4)
    np.testing.assert_allclose(reloaded.sum(axis=1), 1.0, atol=1e-4)
    # The weighted mean: the members' own probabilities averaged by their counts, 2:1.
    heads = [layer for layer in final.head.layers if isinstance(layer, keras.Model)]
    assert len(heads) == 2
    each = [np.asarray(keras.ops.convert_to_numpy(h(X[splits.test]))) for h in heads]
    np.testing.assert_allclose(direct, (2 * each[0] + each[1]) / 3, atol=1e-5)
    assert not np.allclose(each[0], each[1], atol=1e-3)  # two different heads
