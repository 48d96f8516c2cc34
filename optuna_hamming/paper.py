"""The paper's search space (Table I) and a built-in benchmark objective over it (layer 2).

``PAPER_SPACE`` is the one definition of the space: ``suggest_paper_genome`` suggests from it,
in the paper's order (neurons, layers, activation, optimizer), which is also the genome order,
and the CLI checks a study it continues against it. ``layers`` is an ``IntDistribution``
(``suggest_int``), as every study stored so far has it. ``synthetic_head_score`` is a cheap,
deterministic stand-in for training a head: a deceptive landscape with a broad local optimum
(small sigmoid/adam heads) and a narrower global one (wide two-layer sigmoid/adamax heads, the
paper's winner on the disaster data), so that samplers can be compared in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

NEURONS = (32, 64, 128, 256, 512, 768, 1024)
LAYERS = (1, 2, 3, 4)
ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid")
OPTIMIZERS = ("rmsprop", "adam", "sgd", "adagrad", "adadelta", "adamax", "nadam")


PAPER_SPACE: Mapping[str, BaseDistribution] = {
    "neurons": CategoricalDistribution(NEURONS),
    "layers": IntDistribution(min(LAYERS), max(LAYERS)),
    "activation": CategoricalDistribution(ACTIVATIONS),
    "optimizer": CategoricalDistribution(OPTIMIZERS),
}


def suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> Any:
    """``trial``'s public ``suggest_*`` call that records exactly ``distribution``."""
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    raise TypeError(f"no suggest call for {type(distribution).__name__} here")


def suggest_paper_genome(trial: optuna.Trial) -> dict[str, Any]:
    """Suggest the four genes of Table I, in the paper's order."""
    return {name: suggest(trial, name, d) for name, d in PAPER_SPACE.items()}


def space_mismatch(distributions: Mapping[str, BaseDistribution]) -> str | None:
    """How a trial's ``distributions`` differ from the paper's space, or None if they do not:
    the first parameter that differs, with both distributions."""
    for name, distribution in distributions.items():
        expected = PAPER_SPACE.get(name)
        if expected is None:
            return f"parameter {name!r} ({distribution}) is not in the paper's space"
        if expected != distribution:
            return f"parameter {name!r} is {distribution}, the paper's space has {expected}"
    return None


_OPTIMIZER_BONUS = {
    "rmsprop": 0.05,
    "adam": 0.08,
    "sgd": -0.10,
    "adagrad": -0.05,
    "adadelta": -0.20,
    "adamax": 0.06,
    "nadam": 0.07,
}
_ACTIVATION_BONUS = {"relu": 0.03, "elu": 0.02, "tanh": 0.0, "sigmoid": 0.04}


def synthetic_head_score(params: dict[str, Any]) -> float:
    """A macro-F1-like score in [0, 1] for a genome of the paper's space (deterministic)."""
    neurons, layers = int(params["neurons"]), int(params["layers"])
    activation, optimizer = str(params["activation"]), str(params["optimizer"])
    width = NEURONS.index(neurons) / (len(NEURONS) - 1)
    # Broad local optimum: narrow heads with one layer and adam.
    local = 0.55 - 0.25 * width - 0.05 * (layers - 1) + (0.08 if optimizer == "adam" else 0.0)
    # Narrow global optimum: 768-1024 neurons, 2 layers, sigmoid and adamax together.
    peak = 0.35 + 0.35 * width - 0.08 * abs(layers - 2)
    if activation == "sigmoid" and optimizer == "adamax":
        peak += 0.15
    score = max(local, peak) + _OPTIMIZER_BONUS[optimizer] + _ACTIVATION_BONUS[activation]
    return float(min(max(score, 0.0), 1.0))


def synthetic_objective(trial: optuna.Trial) -> float:
    """Optuna objective: suggest the paper's genome and score it with the synthetic landscape."""
    return synthetic_head_score(suggest_paper_genome(trial))
