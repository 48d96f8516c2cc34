"""Backbones by name: keras.applications and the offline torchvision MobileNetV2 port."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from optuna_hamming.backbones.preprocessing import CaffePreprocess

DEFAULT_BACKBONE = "torchvision-mobilenet-v2"


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

BACKBONES = (DEFAULT_BACKBONE, *_APPLICATIONS)


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


def default_cache_dir() -> Path:
    """``$OPTUNA_HAMMING_CACHE``, else ``$XDG_CACHE_HOME/optuna-hamming``, else ~/.cache/..."""
    explicit = os.environ.get("OPTUNA_HAMMING_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "optuna-hamming"


def _torchvision_mobilenet_v2(
    weights: str | Path | None, image_size: int | None, cache_dir: Path | None, include_top: bool
) -> Backbone:
    from optuna_hamming.backbones import torchvision_mobilenet_v2 as port
    from optuna_hamming.backbones.pth_reader import read_state_dict

    size = image_size or 224
    model = port.build_mobilenet_v2(input_shape=(size, size, 3), include_top=include_top)
    if weights is None:
        return Backbone(DEFAULT_BACKBONE, model, "none", (size, size))
    source = port.default_weights_file() if weights == "imagenet" else Path(weights)
    if not source.is_file():
        raise BackboneError(f"weights file {source} does not exist")
    digest = file_sha256(source)
    if source.suffix == ".h5" or source.name.endswith(".weights.h5"):
        try:
            model.load_weights(source)
        except Exception as error:
            raise BackboneError(
                f"{source} does not fit {DEFAULT_BACKBONE} ({type(error).__name__}: {error})"
            ) from None
        return Backbone(DEFAULT_BACKBONE, model, digest, (size, size))
    top = "top" if include_top else "notop"
    converted = (
        (cache_dir or default_cache_dir())
        / "weights"
        / f"mobilenet_v2-{digest[:16]}-{top}.weights.h5"
    )
    if converted.is_file():
        try:
            model.load_weights(converted)
            return Backbone(DEFAULT_BACKBONE, model, digest, (size, size))
        except Exception:
            converted.unlink()  # a damaged conversion is made again below
    try:
        state = read_state_dict(source)
    except Exception as error:
        raise BackboneError(f"cannot read {source} as PyTorch weights: {error}") from None
    port.load_torchvision_weights(model, state, strict=True)
    converted.parent.mkdir(parents=True, exist_ok=True)
    partial = converted.with_suffix(".partial.weights.h5")
    model.save_weights(partial)
    partial.replace(converted)
    return Backbone(DEFAULT_BACKBONE, model, digest, (size, size))


def default_image_size(name: str) -> int:
    """The square input size backbone ``name`` was trained at."""
    if name == DEFAULT_BACKBONE:
        return 224
    if name not in _APPLICATIONS:
        raise BackboneError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONES)}")
    return _APPLICATIONS[name][1]


def weights_identity(name: str, weights: str | Path | None) -> str:
    """The weights' part of a feature-cache key, known without building the backbone."""
    if weights is None:
        return "none"
    if weights == "imagenet":
        if name == DEFAULT_BACKBONE:
            from optuna_hamming.backbones.torchvision_mobilenet_v2 import default_weights_file

            return file_sha256(default_weights_file())
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
    if name == DEFAULT_BACKBONE:
        return _torchvision_mobilenet_v2(weights, image_size, cache_dir, include_top)
    if name not in _APPLICATIONS:
        raise BackboneError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONES)}")
    if include_top:
        raise BackboneError("include_top is only offered for the offline MobileNetV2 port")
    return _application(name, weights, image_size)
