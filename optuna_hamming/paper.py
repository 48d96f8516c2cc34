"""The paper's search space (Table I) and a built-in benchmark objective over it.

``suggest_paper_genome`` suggests the four genes in the paper's order (neurons, layers,
activation, optimizer), which is also the genome order. ``synthetic_head_score`` is a cheap,
deterministic stand-in for training a head: a deceptive landscape with a broad local optimum
(small sigmoid/adam heads) and a narrower global one (wide two-layer sigmoid/adamax heads, the
paper's winner on the disaster data), so that samplers can be compared in milliseconds.
"""

from __future__ import annotations

from typing import Any

import optuna

NEURONS = (32, 64, 128, 256, 512, 768, 1024)
LAYERS = (1, 2, 3, 4)
ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid")
OPTIMIZERS = ("rmsprop", "adam", "sgd", "adagrad", "adadelta", "adamax", "nadam")


def suggest_paper_genome(trial: optuna.Trial) -> dict[str, Any]:
    """Suggest the four genes of Table I, in the paper's order."""
    return {
        "neurons": trial.suggest_categorical("neurons", NEURONS),
        "layers": trial.suggest_int("layers", 1, 4),
        "activation": trial.suggest_categorical("activation", ACTIVATIONS),
        "optimizer": trial.suggest_categorical("optimizer", OPTIMIZERS),
    }


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
