"""HammingGASampler from OptunaHub on a small categorical and integer search space.

The objective is a cheap stand-in for training a classification head: it scores a width, a
depth, an activation and an optimizer, with a broad local optimum and a narrower global one.
"""

from __future__ import annotations

import math

import optuna
import optunahub

WIDTHS = [32, 64, 128, 256, 512, 1024]
ACTIVATIONS = ["relu", "elu", "tanh", "sigmoid"]
OPTIMIZERS = ["sgd", "rmsprop", "adam", "adamax"]


def objective(trial: optuna.Trial) -> float:
    width = trial.suggest_categorical("width", WIDTHS)
    layers = trial.suggest_int("layers", 1, 4)
    activation = trial.suggest_categorical("activation", ACTIVATIONS)
    optimizer = trial.suggest_categorical("optimizer", OPTIMIZERS)
    size = math.log2(width)
    # Broad local optimum: small adam heads; narrower global one: wide two-layer adamax heads.
    local = 0.80 - 0.02 * (size - 6) ** 2 - 0.03 * (layers - 1) + 0.04 * (optimizer == "adam")
    best = 0.95 - 0.05 * (size - 9) ** 2 - 0.10 * abs(layers - 2)
    best -= 0.15 * (optimizer != "adamax") + 0.10 * (activation != "sigmoid")
    return max(local, best)


module = optunahub.load_module("samplers/hamming_ga")
sampler = module.HammingGASampler(population_size=10, seed=0)
study = optuna.create_study(direction="maximize", sampler=sampler)
study.optimize(objective, n_trials=60)

print("best:", study.best_value, study.best_params)
for number, summary in sorted(module.HammingGASampler.generations(study).items()):
    print(f"generation {number}: best {summary['best']:.3f}, Significant {summary['significant']}")
