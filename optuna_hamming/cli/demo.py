"""``python -m optuna_hamming.cli.demo``: a small HammingGASampler study on the built-in benchmark.

Runs the paper's algorithm (population 10, 8 generations) on the synthetic objective of
:mod:`optuna_hamming.paper`, stores the study in ``mlruns/optuna-demo.db`` (running it again
continues the same study) and prints the generation table and the best genome.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.output import print_generation_table
from optuna_hamming.paper import synthetic_objective
from optuna_hamming.sampler.attributes import GENE_ATTR, GENERATION_ATTR, ORIGIN_ATTR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", default="sqlite:///mlruns/optuna-demo.db")
    parser.add_argument("--study-name", default="hamming-demo")
    args = parser.parse_args(argv)
    if args.storage.startswith("sqlite:///"):
        Path(args.storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = HammingGASampler(population_size=args.population, seed=args.seed)
    study = optuna.create_study(
        study_name=args.study_name,
        storage=args.storage,
        direction="maximize",
        sampler=sampler,
        load_if_exists=True,
    )
    # Generation 0 trains P individuals, later ones P - parents; stop once enough have closed.
    target = args.generations
    while len(HammingGASampler.generations(study)) < target:
        study.optimize(synthetic_objective, n_trials=args.population)
    print(f"study {args.study_name!r} in {args.storage}: {len(study.trials)} trials")
    print_generation_table(study)
    best = study.best_trial
    print(
        f"best genome {best.user_attrs[GENE_ATTR]} = {best.params} "
        f"(fitness {best.value:.3f}, trial {best.number}, generation "
        f"{best.user_attrs[GENERATION_ATTR]}, origin {best.user_attrs[ORIGIN_ATTR]})"
    )
    print(f"optuna-dashboard {args.storage}   # to browse the study and its ga.* attributes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
