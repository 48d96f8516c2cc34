"""Features of more than one layer (layer 3): what a linear model on pooled features lacks.

A backbone's pooled output averages its last feature map over space. ``multi_layer`` hands
the heads three views of the network side by side: that mean pooling, the max pooling of
the same map (where a feature fired most strongly, which an average dilutes), and the mean
pooling of a middle block's map (less ImageNet-specific; Head2Toe, Evci et al. 2022, finds
such intermediate features help transfer). The result is another :class:`Backbone` (its
name ends in ``+multi-layer``, so its features are cached apart), whose model still takes
raw images: the exported classifier holds it whole.

Measured first with a logistic regression on mirrored views (experiments/head_levers.py,
protocol splits): animal-mnist x MobileNetV2 seeds 0-2 0.9606/0.9623/0.9578 with the pooled
features, 0.9631/0.9722/0.9601 with these.
"""

from __future__ import annotations

import keras

from optuna_hamming.names import LAYER_CHOICES, LAYERS_MULTI, LAYERS_POOLED
from optuna_hamming.vision.backbones.registry import (
    DEFAULT_BACKBONE,
    LITE0_BACKBONE,
    Backbone,
    BackboneError,
)

# backbone -> (its last feature map, a middle block's output): layer names of the ports.
LAYER_TAPS = {
    DEFAULT_BACKBONE: ("features_18_relu6", "features_13_add"),  # 7x7x1280, 14x14x96
    LITE0_BACKBONE: ("head_relu6", "block10_add"),  # 7x7x1280, 14x14x112
}
SUFFIX = "+" + LAYERS_MULTI


def check_layers(layers: str, backbone: str) -> None:
    """Refuse a ``layers`` choice this backbone cannot give, naming the fix."""
    if layers not in LAYER_CHOICES:
        raise BackboneError(f"unknown layers {layers!r}: use one of {', '.join(LAYER_CHOICES)}")
    if layers == LAYERS_MULTI and backbone not in LAYER_TAPS:
        raise BackboneError(
            f"{LAYERS_MULTI} features are defined for {', '.join(LAYER_TAPS)}, not "
            f"{backbone!r}: pass --layers {LAYERS_POOLED} or one of those backbones"
        )


def tapped_name(backbone: str, layers: str) -> str:
    """The name features of ``layers`` are cached under."""
    return backbone + SUFFIX if layers == LAYERS_MULTI else backbone


def with_layers(backbone: Backbone, layers: str) -> Backbone:
    """``backbone`` itself (``pooled``), or its multi-layer form (:func:`multi_layer`)."""
    check_layers(layers, backbone.name)
    return multi_layer(backbone) if layers == LAYERS_MULTI else backbone


def multi_layer(backbone: Backbone) -> Backbone:
    """``backbone`` with its pooled output, the max pooling of its last feature map and the
    mean pooling of a middle block's map, concatenated (in that order)."""
    final_map, middle = LAYER_TAPS[backbone.name]
    model = backbone.model
    outputs = keras.layers.Concatenate(name="multi_layer_features")(
        [
            model.output,
            keras.layers.GlobalMaxPooling2D(name="max_pool_final")(
                model.get_layer(final_map).output
            ),
            keras.layers.GlobalAveragePooling2D(name="avg_pool_middle")(
                model.get_layer(middle).output
            ),
        ]
    )
    tapped = keras.Model(model.input, outputs, name=f"{model.name}_multi_layer")
    return Backbone(backbone.name + SUFFIX, tapped, backbone.weights_id, backbone.image_size)
