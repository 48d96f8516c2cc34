"""Augmented views of an image (layer 3): the same code in feature extraction and in the model.

A view is a label-keeping transform of a batch of images at the backbone's input size: the
image itself, its horizontal mirror, or the image shifted by an eighth of its size (the
border repeated where the shift leaves a gap). Features are extracted once per view
(:func:`optuna_hamming.vision.features.features_for`, ``view=``); heads may train on every
view's rows, and an image is scored by the mean of its views' softmax outputs (test-time
augmentation, Razavian et al. 2014). :class:`ImageView` is the same transform as a Keras
layer, so the exported model computes the views in its graph and gives the probabilities
the protocol scored.

A mirror suits natural images and may not suit digits or text; shifts suit both. A *view
set* names the views a study uses (``VIEW_SETS``); the recommended preset picks one by
cross-validation among them, never by test.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from optuna_hamming.names import (
    VIEW_SET_NAMES,
    VIEWS_FLIP,
    VIEWS_FLIP_SHIFTS,
    VIEWS_NONE,
    VIEWS_SHIFTS,
)

IDENTITY = "identity"
FLIP = "flip"
SHIFT_DOWN_RIGHT = "shift-down-right"
SHIFT_UP_LEFT = "shift-up-left"
VIEWS = (IDENTITY, FLIP, SHIFT_DOWN_RIGHT, SHIFT_UP_LEFT)
SHIFT_FRACTION = 8  # a shift moves the image by 1/8 of its height and width

# The short fixed list the preset chooses from; every set starts with the image itself.
VIEW_SETS: dict[str, tuple[str, ...]] = {
    VIEWS_NONE: (IDENTITY,),
    VIEWS_FLIP: (IDENTITY, FLIP),
    VIEWS_SHIFTS: (IDENTITY, SHIFT_DOWN_RIGHT, SHIFT_UP_LEFT),
    VIEWS_FLIP_SHIFTS: (IDENTITY, FLIP, SHIFT_DOWN_RIGHT, SHIFT_UP_LEFT),
}
assert tuple(VIEW_SETS) == VIEW_SET_NAMES


def check_view_set(name: str) -> tuple[str, ...]:
    """The views of the set ``name``; an unknown name is refused with the choices."""
    try:
        return VIEW_SETS[name]
    except KeyError:
        raise ValueError(
            f"unknown view set {name!r}: use one of {', '.join(VIEW_SETS)} "
            "('none' is the images alone, as the paper)"
        ) from None


def check_view(view: str) -> None:
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}: use one of {', '.join(VIEWS)}")


def _shift(images: Any, dy: int, dx: int) -> Any:
    """``images`` (batch, height, width, channels) moved by (dy, dx) pixels, the edge row or
    column repeated into the gap: a crop of an edge-padded copy, in ``keras.ops`` alone."""
    height, width = images.shape[1], images.shape[2]
    pad = ((0, 0), (abs(dy), abs(dy)), (abs(dx), abs(dx)), (0, 0))
    padded = keras.ops.pad(images, pad, mode="symmetric")
    top, left = abs(dy) - dy, abs(dx) - dx
    return padded[:, top : top + height, left : left + width, :]


def apply_view(images: Any, view: str) -> Any:
    """The view ``view`` of a batch of images (any backend tensor or array, channels last)."""
    check_view(view)
    if view == IDENTITY:
        return images
    if view == FLIP:
        return keras.ops.flip(images, axis=2)
    step_y = max(1, int(images.shape[1]) // SHIFT_FRACTION)
    step_x = max(1, int(images.shape[2]) // SHIFT_FRACTION)
    if view == SHIFT_DOWN_RIGHT:
        return _shift(images, step_y, step_x)
    return _shift(images, -step_y, -step_x)


def view_batch(images: npt.NDArray[np.float32], view: str) -> npt.NDArray[np.float32]:
    """:func:`apply_view` on a NumPy batch, returned as NumPy (feature extraction)."""
    if view == IDENTITY:
        return images
    return np.asarray(keras.ops.convert_to_numpy(apply_view(images, view)), dtype=np.float32)


@keras.saving.register_keras_serializable(package="optuna_hamming")
class ImageView(keras.layers.Layer):
    """:func:`apply_view` as a layer of the exported model (it has no weights)."""

    def __init__(self, view: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_view(view)
        self.view = view

    def call(self, inputs: Any) -> Any:
        return apply_view(inputs, self.view)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "view": self.view}
