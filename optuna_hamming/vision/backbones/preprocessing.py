"""Preprocessing layers that keras.applications does as plain functions, as saveable layers.

A final model must classify raw images and load in Keras' safe mode, which refuses Lambda
layers: so the "caffe" preprocessing of ResNet50 and VGG (RGB to BGR, ImageNet mean
subtraction) is a small registered layer written with ``keras.ops`` (any backend).
"""

from __future__ import annotations

from typing import Any

import keras

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="optuna_hamming")
class CaffePreprocess(keras.layers.Layer):
    """RGB (0-255) to BGR with the ImageNet channel means subtracted."""

    def call(self, inputs: Any) -> Any:
        bgr = keras.ops.flip(keras.ops.cast(inputs, self.compute_dtype), axis=-1)
        return bgr - keras.ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape
