"""Assigning a PyTorch state dict to a Keras port of the same network, strictly.

The ports name their Keras layers so that each maps to one state-dict prefix; this module
transposes every tensor to Keras' layout, checks every shape, and refuses weights that leave
a Keras weight without a tensor or a tensor unused, so a file of another network fails loudly
instead of giving a network that silently computes something else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

Tensor = npt.NDArray[Any]


def _pairs(
    model: keras.Model, state: Mapping[str, Tensor], prefix_of: Callable[[str], str | None]
) -> list[tuple[Any, Tensor, str]]:
    """Every Keras weight with its state-dict tensor, transposed to Keras' layout."""
    pairs: list[tuple[Any, Tensor, str]] = []
    for layer in model.layers:
        key = prefix_of(layer.name)
        if key is None:
            continue
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


def assign_state_dict(
    model: keras.Model,
    state: Mapping[str, Tensor],
    prefix_of: Callable[[str], str | None],
    *,
    network: str,
    expected: str,
    top_prefix: str,
    strict: bool = True,
) -> None:
    """Assign ``state`` to ``model``; ``prefix_of`` maps a Keras layer name to its tensors'
    prefix (None: a layer without weights).

    Strict: every weight of the model gets a tensor of exactly its shape, and every tensor of
    the state dict is used (those under ``top_prefix`` only when the model has its classifier;
    BatchNorm's ``num_batches_tracked`` counters carry no weights). Otherwise ValueError says
    what differs; ``network`` and ``expected`` (the file to use instead) go in the message.
    """
    try:
        pairs = _pairs(model, state, prefix_of)
    except KeyError as missing:
        raise ValueError(
            f"the weights have no tensor {missing}: they are not {network} weights (use {expected})"
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
        has_top = any(key.startswith(top_prefix) for key in used)
        unused = [
            name
            for name in state
            if not name.endswith("num_batches_tracked")
            and name.rsplit(".", 1)[0] not in used
            and not (name.startswith(top_prefix) and not has_top)
        ]
        if unused:
            raise ValueError(
                f"{len(unused)} tensors of the weights were not used (first: {unused[0]}): "
                f"they belong to another network than {network}"
            )
