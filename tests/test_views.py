"""Augmented views: the transforms, their feature cache, folds grouped by image, and the
exported model that averages its views in its graph (issue 37)."""

from __future__ import annotations

from pathlib import Path

import keras
import mlflow
import mlflow.keras
import mlflow.pyfunc
import numpy as np
import optuna
import pytest
from sklearn.metrics import f1_score

from optuna_hamming.data import FeatureSet, load_digits_images, stratified_splits
from optuna_hamming.data.datasets import DatasetError
from optuna_hamming.vision import HeadObjective, export_image_classifier, train_final_model
from optuna_hamming.vision.backbones import build_backbone
from optuna_hamming.vision.features import features_from
from optuna_hamming.vision.fitness import FitnessData
from optuna_hamming.vision.heads import HeadGenome
from optuna_hamming.vision.scoring import mean_over_views, predict_probabilities
from optuna_hamming.vision.views import (
    FLIP,
    IDENTITY,
    SHIFT_DOWN_RIGHT,
    SHIFT_UP_LEFT,
    VIEW_SETS,
    apply_view,
    check_view_set,
    view_batch,
)

pytestmark = pytest.mark.keras


def test_views_keep_the_image_and_move_it_as_named() -> None:
    images = np.arange(2 * 16 * 16 * 3, dtype=np.float32).reshape(2, 16, 16, 3)
    np.testing.assert_array_equal(view_batch(images, IDENTITY), images)
    np.testing.assert_array_equal(view_batch(images, FLIP), images[:, :, ::-1])
    down_right = view_batch(images, SHIFT_DOWN_RIGHT)  # by 16 // 8 = 2 pixels each way
    assert down_right.shape == images.shape
    np.testing.assert_array_equal(down_right[:, 2:, 2:], images[:, :-2, :-2])
    # The gap repeats the border (symmetric padding), never zeros.
    np.testing.assert_array_equal(down_right[:, 0, 2:], images[:, 1, :-2])
    up_left = view_batch(images, SHIFT_UP_LEFT)
    np.testing.assert_array_equal(up_left[:, :-2, :-2], images[:, 2:, 2:])
    # The layer form is the same transform (the exported model uses it).
    as_tensor = apply_view(keras.ops.convert_to_tensor(images), FLIP)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(as_tensor), images[:, :, ::-1])
    assert all(s[0] == IDENTITY for s in VIEW_SETS.values())
    with pytest.raises(ValueError, match=r"unknown view set 'mirror'.*flip"):
        check_view_set("mirror")
    with pytest.raises(ValueError, match=r"unknown view 'rotate'"):
        view_batch(images, "rotate")


def _tagged(n: int, views: int) -> FeatureSet:
    """Features that say which image and which view they are: column 0 the image, 1 the view."""
    stack = np.stack(
        [np.stack([np.arange(n), np.full(n, v)], axis=1) for v in range(views)]
    ).astype(np.float32)
    labels = np.arange(n) % 3
    names = tuple(VIEW_SETS["flip-shifts"][:views])
    augmented = stack[1:] if views > 1 else None
    return FeatureSet(stack[0], labels, ("a", "b", "c"), "tagged", augmented, names)


def test_feature_set_rows_are_view_major_and_checked() -> None:
    features = _tagged(6, 3)
    rows = features.rows([4, 1])
    np.testing.assert_array_equal(rows, [[4, 0], [1, 0], [4, 1], [1, 1], [4, 2], [1, 2]])
    np.testing.assert_array_equal(features.row_labels([4, 1]), [1, 1, 1, 1, 1, 1])
    chosen = features.select([0, 1, 3, 4])
    np.testing.assert_array_equal(chosen.rows([1]), [[1, 0], [1, 1], [1, 2]])
    with pytest.raises(DatasetError, match=r"1 views named \(identity\) for 3 feature arrays"):
        FeatureSet(features.X, features.y, features.class_names, "x", features.augmented)
    with pytest.raises(DatasetError, match=r"same images"):
        FeatureSet(
            features.X, features.y, features.class_names, "x", features.augmented[:, :3],
            features.views,
        )  # fmt: skip


@pytest.mark.parametrize("views", [1, 2, 4])
def test_a_fold_never_holds_a_view_of_an_image_another_fold_holds_out(views: int) -> None:
    features = _tagged(60, views)
    splits = stratified_splits(features.y, seed=0)
    data = FitnessData.of(features, splits, fitness="cv", folds=3, seed=0)
    assert data.cv is not None
    fit_on = splits.train_and_validation
    for fold, (fit, held) in enumerate(data.cv.positions):
        split = data.cv.split(fold)
        assert split.n_views == views
        # Every view of every fitted image, and nothing of a held-out one.
        assert set(map(tuple, split.X_train)) == {(i, v) for i in fit_on[fit] for v in range(views)}
        assert set(split.X_val[:, 0]) == set(fit_on[held])
        np.testing.assert_array_equal(split.y_train, np.tile(features.y[fit_on[fit]], views))
        np.testing.assert_array_equal(split.y_val, features.y[fit_on[held]])
        assert len(split.X_val) == views * len(held)
    holdout = data.holdout
    assert set(holdout.X_train[:, 0]) == set(splits.train)
    assert set(holdout.X_val[:, 0]) == set(splits.validation)


@pytest.fixture(scope="module")
def small_digits(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Digits through the real ImageNet MobileNetV2 at 32 pixels: features of a usable scale
    (a network with random weights gives ~1e-12, which any tolerance would let through)."""
    images = load_digits_images().subset(np.arange(240))
    cache = tmp_path_factory.mktemp("weights")
    return images, build_backbone(image_size=32, cache_dir=cache)


def test_view_features_are_cached_by_view(small_digits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    images, backbone = small_digits
    plain, first = features_from(images, backbone, cache_dir=tmp_path)
    flipped, report = features_from(images, backbone, cache_dir=tmp_path, view=FLIP)
    assert not report.cached and report.path != first.path
    again, cached = features_from(images, backbone, cache_dir=tmp_path, view=FLIP)
    assert cached.cached and cached.path == report.path
    np.testing.assert_array_equal(again.X, flipped.X)
    scale = np.abs(plain.X).max()
    assert scale > 0.1
    assert np.abs(plain.X - flipped.X).max() > 0.01 * scale  # digits are not mirror-symmetric
    # The view's features are the backbone's features of the viewed images.
    mirrored = type(images)(
        np.ascontiguousarray(images.images[:, :, ::-1]), images.labels, images.class_names, "m"
    )
    direct, _ = features_from(mirrored, backbone, cache_dir=tmp_path)
    np.testing.assert_allclose(direct.X, flipped.X, rtol=1e-4, atol=1e-4 * scale)


def test_heads_train_on_views_and_the_export_averages_them_in_its_graph(
    small_digits,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    images, backbone = small_digits
    views = VIEW_SETS["flip-shifts"]
    per_view = [features_from(images, backbone, cache_dir=tmp_path, view=v)[0].X for v in views]
    features = FeatureSet(
        per_view[0], images.labels, images.class_names, "digits", np.stack(per_view[1:]), views
    )
    splits = stratified_splits(features.y, seed=0)
    objective = HeadObjective(features, splits, max_epochs=3, patience=1, fitness="cv", folds=2)
    trial = optuna.trial.FixedTrial(
        {"neurons": 64, "layers": 1, "activation": "relu", "optimizer": "adam"}
    )
    assert 0.0 <= objective(trial) <= 1.0
    final = train_final_model(HeadGenome(64, 1, "relu", "adam"), features, splits, epochs=2)
    # The protocol's scoring: every view's rows through the head, averaged per image.
    scored = mean_over_views(
        predict_probabilities(final.head, features.rows(splits.test)), len(views)
    )
    assert final.test.macro_f1 == pytest.approx(
        f1_score(features.y[splits.test], scored.argmax(1), average="macro", zero_division=0)
    )
    path = export_image_classifier(
        backbone.model, final.head, (32, 32), tmp_path / "m.keras", views=views
    )
    loaded = keras.saving.load_model(path, safe_mode=True)
    raw = images.images[splits.test].astype(np.float32)  # 8x8 images, resized inside
    in_graph = np.asarray(keras.ops.convert_to_numpy(loaded(raw, training=False)))
    np.testing.assert_allclose(in_graph, scored, atol=1e-5)
    np.testing.assert_array_equal(in_graph.argmax(1), scored.argmax(1))
    # The same model through MLflow's pyfunc flavour.
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run():
        info = mlflow.keras.log_model(loaded, name="model")
    through_pyfunc = np.asarray(mlflow.pyfunc.load_model(info.model_uri).predict(raw))
    np.testing.assert_allclose(through_pyfunc, scored, atol=1e-5)


def test_multi_layer_features_extend_the_pooled_ones_and_are_cached_apart(
    small_digits: tuple, tmp_path: Path
) -> None:
    from optuna_hamming.names import LAYERS_MULTI
    from optuna_hamming.vision.backbones import BackboneError
    from optuna_hamming.vision.backbones.layer_taps import check_layers, multi_layer

    images, backbone = small_digits
    pooled, first = features_from(images, backbone, cache_dir=tmp_path)
    tapped = multi_layer(backbone)
    layered, report = features_from(images, tapped, cache_dir=tmp_path)
    assert report.path != first.path and tapped.name.endswith("+" + LAYERS_MULTI)
    # Mean pooling of the last map, its max pooling (never below the mean), a middle block.
    assert layered.X.shape == (len(images.labels), 1280 + 1280 + 96)
    np.testing.assert_allclose(layered.X[:, :1280], pooled.X, rtol=1e-5, atol=1e-5)
    assert (layered.X[:, 1280:2560] >= layered.X[:, :1280] - 1e-5).all()
    path = tmp_path / "tapped.keras"
    tapped.model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    batch = images.images[:4].astype(np.float32)
    batch = np.asarray(keras.ops.image.resize(batch, (32, 32)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(batch)), layered.X[:4], rtol=1e-4, atol=1e-4
    )
    with pytest.raises(BackboneError, match=r"not 'MobileNetV2': pass --layers pooled"):
        check_layers(LAYERS_MULTI, "MobileNetV2")
