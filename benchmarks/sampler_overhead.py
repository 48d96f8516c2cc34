"""Seconds per trial spent inside the sampler: HammingGASampler (the paper's GA and the
accelerated mode: ``SurrogateScreening()``, ``lean()``, ``recommended_sampler()``) vs NSGA-II
vs TPE.

The objective is trivial (the synthetic score of the paper's 4-parameter space), so what is
measured is the sampler: every call Optuna makes into it (before_trial, infer/sample relative,
sample_independent, after_trial), including the storage reads and writes it does, charged to
the trial it served. All samplers run in this one process, one after another, on the same
storage kinds. Reported per sampler and storage: the median over trials around trial 500,
1,000 and 5,000 (windows of 100 trials), how the cost at 5,000 compares with the cost at
500 (flatness), and the mean over trials 1-600 (model fits included: the accelerated mode
fits its forest at each generation close, charged to the trial that closed it).

    python benchmarks/sampler_overhead.py                  # 5,000 trials, in-memory + sqlite
    python benchmarks/sampler_overhead.py --trials 1000 --storages inmemory   # quick look
    python benchmarks/sampler_overhead.py --trials 600 \
        --samplers HammingGA,HammingGA+screening,TPE --out benchmarks/results/sampler_overhead_600
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import TimedSampler, machine

from optuna_hamming import HammingGASampler, SurrogateScreening, recommended_sampler
from optuna_hamming.names import RECOMMENDED_SCREENING
from optuna_hamming.paper import synthetic_objective

RESULTS = Path(__file__).resolve().parent / "results"


# Factories, so that a run builds only the sampler it measures (and an older checkout of the
# package, put first on PYTHONPATH for a before/after run, need not know the others).
SAMPLERS: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "HammingGA": lambda seed: HammingGASampler(seed=seed),
    # SurrogateScreening()'s defaults: four children a generation.
    "HammingGA+screening": lambda seed: recommended_sampler(
        seed=seed, screening=SurrogateScreening()
    ),
    # Two children a generation, the explored share carried: twice the generation closes.
    "HammingGA+screening-children2": lambda seed: recommended_sampler(
        seed=seed, screening=SurrogateScreening(children=2, explore_carried=True)
    ),
    # The same with four trees and half the bred and perturbed candidates.
    "HammingGA+screening-children2-lean4": lambda seed: recommended_sampler(
        seed=seed, screening=SurrogateScreening.lean()
    ),
    # And generation 0 as a Latin hypercube: what recommended_sampler() is.
    f"HammingGA+screening-{RECOMMENDED_SCREENING}": lambda seed: recommended_sampler(seed=seed),
    "NSGA-II": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
    "TPE": lambda seed: optuna.samplers.TPESampler(seed=seed),
}


def window_median(seconds: dict[int, float], end: int, width: int = 100) -> float | None:
    values = [seconds[n] for n in range(max(0, end - width), end) if n in seconds]
    return statistics.median(values) if values else None


def run(storage_kind: str, name: str, n_trials: int, seed: int, workdir: Path) -> dict[str, object]:
    sampler = TimedSampler(SAMPLERS[name](seed))
    # A database per run: a repeat must not run in one that holds the earlier repeats' studies.
    path = workdir / f"{name}-{seed}.db"
    storage = None if storage_kind == "inmemory" else f"sqlite:///{path}"
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage)
    start = time.perf_counter()
    study.optimize(synthetic_objective, n_trials=n_trials)
    wall = time.perf_counter() - start
    row: dict[str, object] = {
        "storage": storage_kind,
        "sampler": name,
        "trials": n_trials,
        "wall_s": wall,
        "wall_per_trial_ms": 1e3 * wall / n_trials,
        "sampler_median_ms": 1e3 * statistics.median(sampler.seconds.values()),
        "best": study.best_value,
    }
    if n_trials >= 600:
        first = [sampler.seconds[n] for n in range(600) if n in sampler.seconds]
        row["mean_1_600_ms"] = 1e3 * statistics.fmean(first)
    for mark in (500, 1000, 5000):
        if mark <= n_trials:
            value = window_median(sampler.seconds, mark)
            row[f"at_{mark}_ms"] = None if value is None else 1e3 * value
    return row


def _median_row(repeats: list[dict[str, object]]) -> dict[str, object]:
    """One row of the table: each number the median over the repeats, with the runs kept."""
    merged = dict(repeats[0])
    for key, value in repeats[0].items():
        if isinstance(value, float):
            merged[key] = statistics.median(r[key] for r in repeats)  # type: ignore[misc]
    merged["runs"] = repeats
    return merged


def _mean_cells(row: dict[str, object], tpe: dict[str, object] | None) -> str:
    mean = row.get("mean_1_600_ms")
    if not isinstance(mean, float):
        return "- | - | -"
    peer = None if tpe is None else tpe.get("mean_1_600_ms")
    ratio = f"{mean / peer:.2f}" if isinstance(peer, float) else "-"
    return f"{mean:.3f} | {ratio} | {_paired_ratios(row, tpe)}"


def _paired_ratios(row: dict[str, object], tpe: dict[str, object] | None) -> str:
    """The ratio to TPE run by run (same seed, run next to each other): lowest-highest."""
    if tpe is None:
        return "-"
    ours, theirs = row.get("runs"), tpe.get("runs")
    if not isinstance(ours, list) or not isinstance(theirs, list) or len(ours) != len(theirs):
        return "-"
    ratios = sorted(
        a["mean_1_600_ms"] / b["mean_1_600_ms"]
        for a, b in zip(ours, theirs, strict=True)
        if isinstance(a.get("mean_1_600_ms"), float) and isinstance(b.get("mean_1_600_ms"), float)
    )
    return f"{ratios[0]:.2f}-{ratios[-1]:.2f}" if ratios else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--storages", default="inmemory,sqlite")
    parser.add_argument("--samplers", default="HammingGA,NSGA-II,TPE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs per sampler and storage (seeds seed, seed+1, ...); the table shows medians",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "sampler_overhead")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    names = args.samplers.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for storage_kind in args.storages.split(","):
            # Repeats interleave the samplers (A B C, A B C, ...) so that a drift of the
            # machine's speed during the run falls on every sampler alike, not on the last.
            runs: dict[str, list[dict[str, object]]] = {name: [] for name in names}
            for repeat in range(args.repeats):
                for name in names:
                    row = run(storage_kind, name, args.trials, args.seed + repeat, Path(tmp))
                    runs[name].append(row)
                    print(json.dumps(row), flush=True)
            rows.extend(_median_row(runs[name]) for name in names)
    marks = [m for m in (500, 1000, 5000) if m <= args.trials]
    lines = [
        f"Machine: {machine()}. {args.trials} trials per run, seed {args.seed}"
        + (
            f" to {args.seed + args.repeats - 1} (medians of {args.repeats} runs)"
            if args.repeats > 1
            else ""
        )
        + "; milliseconds spent inside the sampler per trial, median over the 100 trials "
        "before each mark.",
        "",
        "| storage | sampler | "
        + " | ".join(f"at {m} (ms)" for m in marks)
        + " | last/at-500 | vs NSGA-II | vs TPE | wall per trial (ms) "
        + "| mean 1-600 (ms) | mean 1-600 vs TPE | run by run vs TPE |",
        "|---" * (len(marks) + 9) + "|",
    ]
    for row in rows:
        peers = {r["sampler"]: r for r in rows if r["storage"] == row["storage"]}
        last = row[f"at_{marks[-1]}_ms"]
        flat = last / row["at_500_ms"] if "at_500_ms" in row else float("nan")  # type: ignore[operator]

        ratios = {}
        for peer in ("NSGA-II", "TPE"):
            other = peers.get(peer)
            ratios[peer] = "-" if other is None else f"{last / other[f'at_{marks[-1]}_ms']:.2f}"  # type: ignore[operator]

        lines.append(
            f"| {row['storage']} | {row['sampler']} | "
            + " | ".join(f"{row[f'at_{m}_ms']:.3f}" for m in marks)
            + f" | {flat:.2f} | {ratios['NSGA-II']} | {ratios['TPE']} | "
            f"{row['wall_per_trial_ms']:.2f} | {_mean_cells(row, peers.get('TPE'))} |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(table + "\n")
    args.out.with_suffix(".json").write_text(
        json.dumps({"machine": machine(), "rows": rows}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
