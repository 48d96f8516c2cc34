"""Variants of the accelerated mode against Optuna 5's default TPE, on seeds chosen apart.

``SurrogateScreening()``'s defaults were measured on seeds 0-29 of the 12 tables of
``sampler_comparison.py``; a variant chosen on those seeds would carry the same winner's
curse the heads issue is about. This script runs variants on other seeds (30-59 by default),
so that the one chosen can then be confirmed on seeds it was not chosen on (0-29 and later).

For each variant and budget it reports on how many of the 12 tables its median regret is at
or below TPE's, on how many it reaches the top 1 % in fewer median evaluations (a run that
never did counting as more than any that did), and where it loses at 100 evaluations.
Resumable: runs already in the JSON are not run again.

    python experiments/screening_variants.py --variants TPE base children2   # 2 processes
    python experiments/screening_variants.py --tables-only
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import sampler_comparison
from tabular_tasks import RESULTS

from optuna_hamming import recommended_sampler
from optuna_hamming.ga.screening import FloatArray, Surrogate
from optuna_hamming.ga.surrogate import ForestSurrogate, SurrogateScreening
from optuna_hamming.names import LEAN_LATIN
from optuna_hamming.sampler.configurations import SCREENINGS

BUDGETS = (30, 50, 100, 300)
# Each variant is recommended_sampler with these overrides; "TPE" is Optuna 5's default.
# "base" is SurrogateScreening()'s defaults, spelled out: recommended_sampler itself has
# used SurrogateScreening.lean() ("children2-lean4") since it was confirmed on held-out seeds.
VARIANTS: dict[str, Callable[[], dict[str, Any]]] = {
    "base": lambda: {"screening": SurrogateScreening()},
    "children2": lambda: {"screening": SurrogateScreening(children=2)},
    "children1": lambda: {"screening": SurrogateScreening(children=1)},
    "explore0.1": lambda: {"screening": SurrogateScreening(explore=0.1)},
    "optimism0.5": lambda: {"screening": SurrogateScreening(optimism=0.5)},
    "trees24": lambda: {"screening": SurrogateScreening(model=ForestSurrogate(n_trees=24))},
    "perturbed256": lambda: {"screening": SurrogateScreening(perturbed=256)},
    "maxfeat1": lambda: {"screening": SurrogateScreening(model=ForestSurrogate(max_features=1.0))},
    "children2-initial6": lambda: {"screening": SurrogateScreening(children=2, initial=6)},
    "children2-explore0.1": lambda: {"screening": SurrogateScreening(children=2, explore=0.1)},
    "children2-carried": lambda: {
        "screening": SurrogateScreening(children=2, explore_carried=True)
    },
    "rank": lambda: {"screening": SurrogateScreening(model=RankTarget(ForestSurrogate()))},
    "leaf2": lambda: {"screening": SurrogateScreening(model=ForestSurrogate(min_samples_leaf=2))},
    "random256": lambda: {"screening": SurrogateScreening(random=256)},
    "carried0.1": lambda: {"screening": SurrogateScreening(explore=0.1, explore_carried=True)},
    "indicators": lambda: {
        "screening": SurrogateScreening(model=GridIndicators(ForestSurrogate()))
    },
    "density64": lambda: {"screening": SurrogateScreening(density=64)},
    "density256": lambda: {"screening": SurrogateScreening(density=256)},
    # children=2 with the explored share carried, on a budget (SurrogateScreening.lean()):
    # fewer trees and candidates, so that closing a generation every two trials costs what
    # TPE does.
    "children2-lean6": lambda: {
        "screening": SurrogateScreening.lean(model=ForestSurrogate(n_trees=6))
    },
    "children2-lean4": lambda: {"screening": SurrogateScreening.lean()},
    # Generation 0 as a Latin hypercube: every value of a ten-valued gene among ten genomes
    # (recommended_sampler()'s since: chosen over lean on seeds 0-119, confirmed on 120-149).
    LEAN_LATIN: lambda: {"screening": SCREENINGS[LEAN_LATIN]()},
    "pairs1": lambda: {"screening": SurrogateScreening(pairs=1)},
    "gp100": lambda: {"screening": SurrogateScreening(model=GaussianProcessEarly(100))},
}


class GridIndicators:
    """The forest on the grid positions plus a 0/1 column per grid value (a column with more
    than two values seen is an ordered gene), so a split can pick one value of an ordered
    gene as it can a category."""

    def __init__(self, model: Surrogate) -> None:
        self.model = model

    def fit_predict(
        self, features: FloatArray, values: FloatArray, candidates: FloatArray, *, seed: int
    ) -> tuple[FloatArray, FloatArray]:
        both = np.concatenate([features, candidates])
        extra = []
        for column in both.T:
            levels = np.unique(column)
            if len(levels) > 2:
                extra.append((column[:, None] == levels[None, :]).astype(np.float64))
        widened = np.concatenate([both, *extra], axis=1)
        return self.model.fit_predict(
            widened[: len(features)], values, widened[len(features) :], seed=seed
        )


class GaussianProcessEarly:
    """A Gaussian process (scikit-learn, Matern 5/2 with a length per gene column, noise
    fitted) while the archive has at most ``max_points`` genomes, the forest after."""

    def __init__(self, max_points: int, maxiter: int = 30) -> None:
        self.max_points = max_points
        self.maxiter = maxiter
        self.forest = ForestSurrogate()

    def fit_predict(
        self, features: FloatArray, values: FloatArray, candidates: FloatArray, *, seed: int
    ) -> tuple[FloatArray, FloatArray]:
        import warnings

        import scipy.optimize
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        if len(values) > self.max_points:
            return self.forest.fit_predict(features, values, candidates, seed=seed)
        maxiter = self.maxiter

        def optimizer(objective: Any, theta: Any, bounds: Any) -> tuple[Any, float]:
            found = scipy.optimize.minimize(
                objective, theta, method="L-BFGS-B", jac=True, bounds=bounds,
                options={"maxiter": maxiter},
            )  # fmt: skip
            return found.x, float(found.fun)

        d = features.shape[1]
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            np.full(d, 0.5), (0.05, 20.0), nu=2.5
        ) + WhiteKernel(1e-2, (1e-6, 1e-1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gp = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=optimizer)
            gp.fit(features, values)
            mean, std = gp.predict(candidates, return_std=True)
        return np.asarray(mean), np.asarray(std)


class RankTarget:
    """A surrogate fitted on the scores' ranks scaled to [0, 1] instead of the scores (an
    output warping, as HEBO and SMAC's log transform do), so that a few very bad genomes do
    not decide the trees' splits. Measured on seeds 30-59: worse at 100 evaluations."""

    def __init__(self, model: Surrogate) -> None:
        self.model = model

    def fit_predict(
        self, features: FloatArray, values: FloatArray, candidates: FloatArray, *, seed: int
    ) -> tuple[FloatArray, FloatArray]:
        from scipy.stats import rankdata

        ranks = (rankdata(values) - 1.0) / max(len(values) - 1, 1)
        return self.model.fit_predict(features, np.asarray(ranks), candidates, seed=seed)


def complete_seeds(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of the samplers that have every (task, seed) TPE has, so that pooled seed
    sets compare every sampler on the same runs."""
    wanted = {(r["task"], r["seed"]) for r in runs if r["sampler"] == "TPE"}
    have: dict[str, set[tuple[str, int]]] = {}
    for r in runs:
        have.setdefault(r["sampler"], set()).add((r["task"], r["seed"]))
    return [r for r in runs if wanted <= have[r["sampler"]]]


def _factory(overrides: Callable[[], dict[str, Any]]) -> Callable[[int], Any]:
    return lambda seed: recommended_sampler(seed=seed, **overrides())


def _register(names: list[str]) -> None:
    for name in names:
        if name != "TPE":
            sampler_comparison.SAMPLERS[name] = _factory(VARIANTS[name])


def _run(job: tuple[str, str, int, int]) -> dict[str, Any]:
    run = sampler_comparison.run_one(job)
    run.pop("repeats")
    return _compact(run)


def _compact(run: dict[str, Any]) -> dict[str, Any]:
    # The regret at the budgets read, not at every evaluation: the JSON stays small.
    regret = run.pop("regret")
    run["regret_at"] = {str(b): regret[b - 1] for b in BUDGETS if b <= len(regret)}
    return run


def count_intervals(
    runs: list[dict[str, Any]],
    name: str,
    budgets: tuple[int, ...],
    *,
    reference: str = "TPE",
    replicates: int = 2000,
    seed: int = 0,
) -> dict[str, tuple[int, int, float]]:
    """How much the counts of tasks at or below ``reference`` move with the seeds: per budget
    (and "top1" for the top 1 % sooner), the 5th and 95th percentiles of the count over
    bootstrap resamples of each task's seeds (the same seeds for both samplers), and the
    share of resamples where the count meets the issue's bar (10 of 12 tasks at a budget, 8
    for the top 1 %)."""
    rng = np.random.default_rng(seed)
    counts: dict[str, np.ndarray] = {}
    for task in sorted({r["task"] for r in runs}):
        mine = {r["seed"]: r for r in runs if r["task"] == task and r["sampler"] == name}
        theirs = {r["seed"]: r for r in runs if r["task"] == task and r["sampler"] == reference}
        seeds = sorted(mine.keys() & theirs.keys())
        picks = rng.integers(len(seeds), size=(replicates, len(seeds)))
        for budget in (*budgets, "top1"):
            per_sampler = []
            for side in (mine, theirs):
                if budget == "top1":
                    last = max(budgets)
                    values = [sampler_comparison.evaluations_to_top1(side[s], last) for s in seeds]
                else:
                    values = [sampler_comparison.value_at(side[s], "regret", budget) for s in seeds]
                per_sampler.append(np.median(np.asarray(values, dtype=float)[picks], axis=1))
            # At or below for regret, strictly fewer evaluations for the top 1 %.
            wins = per_sampler[0] < per_sampler[1] if budget == "top1" else (
                per_sampler[0] <= per_sampler[1]
            )  # fmt: skip
            key = str(budget)
            counts[key] = counts.get(key, np.zeros(replicates, dtype=int)) + wins
    return {
        key: (
            int(np.percentile(c, 5)),
            int(np.percentile(c, 95)),
            float(np.mean(c >= (8 if key == "top1" else 10))),
        )
        for key, c in counts.items()
    }


def seed_ranges(seeds: set[int]) -> str:
    """Seeds as runs of consecutive numbers: "0-29 + 60-89"."""
    # Consecutive seeds share seed - position in the sorted list.
    groups = itertools.groupby(enumerate(sorted(seeds)), key=lambda pair: pair[1] - pair[0])
    runs = [[seed for _, seed in group] for _, group in groups]
    return " + ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def report(runs: list[dict[str, Any]], budget: int) -> str:
    """sampler_comparison's table against TPE, and the tasks each variant loses at 100."""
    budgets = tuple(b for b in BUDGETS if b <= budget)
    summary = sampler_comparison.summarise(runs, budgets)
    summary["settings"] = {"budgets": list(budgets)}
    lines = [f"Seeds {seed_ranges({r['seed'] for r in runs})}, budgets up to {budget}."]
    lines += sampler_comparison.against_reference(summary, "TPE")
    lines += [
        "",
        "How much those counts move with the seeds: the 5th-95th percentiles of each count over "
        "2000 bootstrap resamples of every task's seeds, and in brackets the share of resamples "
        "where it meets the bar (at least 10 of 12; 8 for the top 1 %):",
        "",
        "| sampler | " + " | ".join(str(b) for b in budgets) + " | top 1 % sooner |",
        "| --- |" + " --- |" * (len(budgets) + 1),
    ]
    for name in dict.fromkeys(r["sampler"] for r in runs):
        if name == "TPE":
            continue
        spread = count_intervals(runs, name, budgets)
        cells = [f"{lo}-{hi} ({share:.2f})" for lo, hi, share in spread.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Tasks where the variant's median regret is above TPE's at 100 evaluations:", ""]
    for name in dict.fromkeys(r["sampler"] for r in runs):
        if name == "TPE":
            continue
        losses = [
            task.split("/")[-1]
            for task, per in summary["tasks"].items()
            if name in per
            and per[name]["100"]["regret_median"] > per["TPE"]["100"]["regret_median"]
        ]
        lines.append(f"- {name}: {', '.join(losses) or '-'}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["TPE", "base"])
    parser.add_argument("--first-seed", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", default="screening_variants")
    parser.add_argument("--tables-only", action="store_true")
    parser.add_argument(
        "--pool", nargs="+", default=[], metavar="NAME",
        help="with --tables-only: report the runs of these result files (e.g. "
        "screening_variants screening_variants_seeds0-29) together, for the samplers that "
        "ran every seed TPE ran, into --out",
    )  # fmt: skip
    args = parser.parse_args()
    path = RESULTS / f"{args.out}.json"
    if args.pool:
        if not args.tables_only:
            parser.error("--pool only reports: pass --tables-only too")
        pooled = [run for name in args.pool for run in json.loads(
            (RESULTS / f"{name}.json").read_text())]  # fmt: skip
        table = report(complete_seeds(pooled), args.budget)
        (RESULTS / f"{args.out}.md").write_text(table)
        print(table)
        return
    runs: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    if not args.tables_only:
        unknown = [v for v in args.variants if v != "TPE" and v not in VARIANTS]
        if unknown:
            raise SystemExit(f"unknown variants {unknown}: choose from TPE, {sorted(VARIANTS)}")
        _register(args.variants)
        have = {(r["task"], r["sampler"], r["seed"]) for r in runs}
        tasks = list(sampler_comparison.load_tasks())
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        started = time.perf_counter()
        # fork: the workers inherit the variants registered above.
        with multiprocessing.get_context("fork").Pool(args.processes) as pool:
            for name in args.variants:
                jobs = [
                    (task, name, seed, args.budget)
                    for task in tasks
                    for seed in seeds
                    if (task, name, seed) not in have
                ]
                runs += pool.map(_run, jobs, chunksize=4)
                path.write_text(json.dumps(runs) + "\n")
                print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    table = report(runs, args.budget)
    (RESULTS / f"{args.out}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
