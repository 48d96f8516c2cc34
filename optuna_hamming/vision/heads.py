"""The classification head of the paper (III.B), in backend-agnostic Keras 3 (layer 3).

Dense layers: the first has ``neurons`` units; each next one halves the previous, except that
halving stops once a layer has fewer than ``2 * n_classes`` units. Then Dropout(0.5) and a
softmax layer of ``n_classes`` units. The optimizer is given by its Keras name with Keras'
defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from optuna_hamming.paper import ACTIVATIONS, OPTIMIZERS

SEED_MODULUS = 2**31  # every derived seed is below it: JAX's seeds are uint32


class HeadError(ValueError):
    """A head cannot be built as asked; the message names what to pass."""


@dataclass(frozen=True)
class HeadGenome:
    """The four genes of Table I."""

    neurons: int
    layers: int
    activation: str
    optimizer: str

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> HeadGenome:
        return cls(
            int(params["neurons"]),
            int(params["layers"]),
            str(params["activation"]),
            str(params["optimizer"]),
        )

    def describe(self) -> str:
        return f"{self.neurons} neurons, {self.layers} layers, {self.activation}, {self.optimizer}"


def layer_sizes(neurons: int, layers: int, n_classes: int) -> list[int]:
    """Units of the hidden layers: halving, which stops below ``2 * n_classes`` units."""
    if neurons < 1 or layers < 1:
        raise HeadError(f"a head needs neurons >= 1 and layers >= 1, got {neurons}, {layers}")
    sizes = [neurons]
    for _ in range(layers - 1):
        previous = sizes[-1]
        sizes.append(previous // 2 if previous >= 2 * n_classes else previous)
    return sizes


def make_optimizer(name: str) -> keras.optimizers.Optimizer:
    """A Keras optimizer by name, with Keras' defaults."""
    key = name.lower()
    if key not in OPTIMIZERS:
        raise HeadError(f"unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")
    return keras.optimizers.get(key)  # type: ignore[no-any-return]


def build_head(
    genome: HeadGenome,
    *,
    n_features: int,
    n_classes: int,
    seed: int | None = None,
    jit_compile: bool | str = "auto",
    name: str = "head",
) -> keras.Model:
    """The compiled head for ``genome`` (sparse categorical cross-entropy).

    ``seed`` seeds each layer's own initializer and the dropout's own seed generator; no
    global random state is touched, so heads built in threads (``n_jobs``) stay reproducible
    and leave the caller's ``random``/``numpy`` streams alone. ``None`` draws them afresh.

    ``jit_compile="auto"`` compiles on JAX only: XLA made TensorFlow heads 2.2x slower and
    torch.compile took minutes per head, while JAX without jit runs op by op
    (``benchmarks/results/head_training.md``). ``True``/``False`` force it.
    """
    if genome.activation not in ACTIVATIONS:
        raise HeadError(
            f"unknown activation {genome.activation!r}: use one of {', '.join(ACTIVATIONS)}"
        )
    if n_classes < 2:
        raise HeadError(f"a classifier needs at least 2 classes, got {n_classes}")
    sizes = layer_sizes(genome.neurons, genome.layers, n_classes)

    def layer_seed(i: int) -> int | None:
        # Distinct per layer; JAX takes seeds as uint32, so large ones wrap (unchanged below).
        return None if seed is None else (seed * 1009 + i) % SEED_MODULUS

    model = keras.Sequential(name=name)  # distinct names let heads share an ensemble
    model.add(keras.Input((n_features,), name="features"))
    for i, units in enumerate(sizes):
        model.add(
            keras.layers.Dense(
                units,
                activation=genome.activation,
                kernel_initializer=keras.initializers.GlorotUniform(seed=layer_seed(i)),
                name=f"dense_{i}",
            )
        )
    model.add(keras.layers.Dropout(0.5, seed=layer_seed(len(sizes)), name="dropout"))
    model.add(
        keras.layers.Dense(
            n_classes,
            activation="softmax",
            kernel_initializer=keras.initializers.GlorotUniform(seed=layer_seed(len(sizes) + 1)),
            name="classes",
        )
    )
    model.compile(
        optimizer=make_optimizer(genome.optimizer),
        loss="sparse_categorical_crossentropy",
        jit_compile=(keras.backend.backend() == "jax") if jit_compile == "auto" else jit_compile,
    )
    return model
