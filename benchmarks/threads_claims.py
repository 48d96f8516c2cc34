"""Genomes trained twice by ``recommended_sampler()`` in threads, in memory (issue 38).

Six genes of six choices (46,656 genomes), 200 trials, ``n_jobs`` of 1, 4 and 8, each trial
sleeping 0.01 s so that the threads interleave. Reported per thread count: the genomes
trained twice, the child indices trained twice, and how many trials after generation 0 are
screened candidates (``ga.screened``). Run it on two commits to compare them.

    python benchmarks/threads_claims.py
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import optuna

from optuna_hamming import recommended_sampler


def six_genes(trial: optuna.Trial) -> float:
    xs = [trial.suggest_categorical(f"x{i}", list(range(6))) for i in range(6)]
    time.sleep(0.01)
    return -sum((x - 2 - i % 3) ** 2 for i, x in enumerate(xs)) + 0.5 * (xs[0] == xs[5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("| threads | genomes trained twice | children trained twice | screened after gen. 0 |")
    print("| --- | --- | --- | --- |")
    for n_jobs in args.jobs:
        study = optuna.create_study(direction="maximize", sampler=recommended_sampler(seed=0))
        study.optimize(six_genes, n_trials=args.trials, n_jobs=n_jobs)
        trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        genomes = Counter(tuple(sorted(t.params.items())) for t in trials)
        children = Counter(tuple(t.system_attrs["hamming_ga:child"]) for t in trials)
        later = [t for t in trials if t.user_attrs.get("ga.generation", 0) > 0]
        screened = sum("ga.screened" in t.user_attrs for t in later)
        print(
            f"| {n_jobs} | {sum(c - 1 for c in genomes.values())} | "
            f"{sum(c - 1 for c in children.values())} | {screened}/{len(later)} |"
        )


if __name__ == "__main__":
    main()
