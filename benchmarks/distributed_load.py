"""Many worker processes on one PostgreSQL study: throughput, sampler cost, nothing lost.

Each configuration starts N worker processes that share one study on PostgreSQL and run 250
trials each of a fast objective (the paper's four genes, synthetic score). The peer, Optuna's
NSGA-II sampler (the other GA), runs the same load in the same run. Reported per sampler and
worker count: wall time and trials per second; the median and 90th percentile of the seconds
each trial spent inside the sampler (storage reads and writes it does included); trials lost
(requested but not finished) and duplicated (trial numbers seen twice); and for HammingGA the
child indices trained twice (two workers that started a child at the same instant) and the
generation sizes against the population size.

    python benchmarks/distributed_load.py                   # 4 and 8 workers x 250 trials
    python benchmarks/distributed_load.py --workers 4 --trials 50   # a quick look
    python benchmarks/distributed_load.py --workers 32 --trials 100 --sleep 0.5 --out load_32

With ``--sleep`` each trial also waits that long, so that many light workers fit on two cores:
the processes wait, and the storage and the sampler are what is measured.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import TimedSampler, machine

from optuna_hamming import HammingGASampler, recommended_sampler
from optuna_hamming.paper import synthetic_objective
from optuna_hamming.sampler.attributes import (
    CHILD_KEY,
    GENERATION_ATTR,
    ORIGIN_ATTR,
    SCREENED_ATTR,
)

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_STORAGE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POPULATION = 30


SAMPLERS = ("HammingGA", "recommended", "NSGA-II")


def make_sampler(name: str) -> optuna.samplers.BaseSampler:
    if name == "HammingGA":
        return HammingGASampler(population_size=POPULATION)
    if name == "recommended":
        return recommended_sampler(population_size=POPULATION)
    return optuna.samplers.NSGAIISampler(population_size=POPULATION)


def six_categorical(trial: optuna.Trial) -> float:
    """Six genes of six choices (46,656 genomes: the paper's space has only 784), the load
    of issue 38: a sum of squared distances and one interaction."""
    xs = [trial.suggest_categorical(f"x{i}", list(range(6))) for i in range(6)]
    return -sum((x - 2 - i % 3) ** 2 for i, x in enumerate(xs)) + 0.5 * (xs[0] == xs[5])


OBJECTIVES = {"paper": synthetic_objective, "six-categorical": six_categorical}


def worker(
    storage: str,
    study_name: str,
    sampler_name: str,
    n_trials: int,
    sleep: float,
    out: str,
    objective_name: str,
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = TimedSampler(make_sampler(sampler_name))
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        value = OBJECTIVES[objective_name](trial)
        time.sleep(sleep)
        return value

    study.optimize(objective, n_trials=n_trials)
    Path(out).write_text(json.dumps(list(sampler.seconds.values())))


def run(
    storage: str,
    sampler_name: str,
    n_workers: int,
    n_trials: int,
    sleep: float,
    tmp: Path,
    objective_name: str = "paper",
) -> dict[str, Any]:
    study_name = f"load-{sampler_name}-{n_workers}-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=study_name, storage=storage, direction="maximize")
    context = multiprocessing.get_context("spawn")
    outs = [tmp / f"{study_name}-{i}.json" for i in range(n_workers)]
    processes = [
        context.Process(
            target=worker,
            args=(storage, study_name, sampler_name, n_trials, sleep, str(out), objective_name),
        )
        for out in outs
    ]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    wall = time.perf_counter() - start
    failed = sum(1 for p in processes if p.exitcode != 0)
    seconds = sorted(s for out in outs if out.is_file() for s in json.loads(out.read_text()))
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    numbers = Counter(t.number for t in trials)
    finished = sum(1 for t in trials if t.state == TrialState.COMPLETE)
    row: dict[str, Any] = {
        "sampler": sampler_name,
        "workers": n_workers,
        "trials_requested": n_workers * n_trials,
        "trials_finished": finished,
        "lost": n_workers * n_trials - finished,
        "duplicated_numbers": sum(c - 1 for c in numbers.values()),
        "workers_failed": failed,
        "left_running": sum(1 for t in trials if t.state == TrialState.RUNNING),
        "failed_trials": sum(1 for t in trials if t.state == TrialState.FAIL),
        "wall_s": round(wall, 1),
        "trials_per_s": round(finished / wall, 1),
        "sampler_ms_median": round(1000 * statistics.median(seconds), 2),
        "sampler_ms_p90": round(1000 * seconds[int(0.9 * (len(seconds) - 1))], 2),
    }
    if sampler_name != "NSGA-II":
        claims = Counter(
            tuple(t.system_attrs[CHILD_KEY]) for t in trials if CHILD_KEY in t.system_attrs
        )
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        genomes = Counter(tuple(sorted(t.params.items())) for t in done)
        later = [t for t in done if t.user_attrs.get(GENERATION_ATTR, 0) > 0]
        summaries = HammingGASampler.generations(study)
        per_generation = Counter(t.user_attrs.get(GENERATION_ATTR) for t in trials)
        row.update(
            children_trained_twice=sum(c - 1 for c in claims.values()),
            genomes_trained_twice=sum(c - 1 for c in genomes.values()),
            # Who trained a repeated genome: (trial number, generation, child, origin).
            repeats=[
                [
                    (
                        t.number,
                        t.user_attrs.get(GENERATION_ATTR),
                        t.system_attrs.get(CHILD_KEY),
                        t.user_attrs.get(ORIGIN_ATTR),
                    )
                    for t in done
                    if tuple(sorted(t.params.items())) == genome
                ]
                for genome, count in genomes.items()
                if count > 1
            ][:5],
            screened_after_generation_0=f"{sum(SCREENED_ATTR in t.user_attrs for t in later)}"
            f"/{len(later)}",
            generations_closed=len(summaries),
            members_per_generation=sorted({len(s["members"]) for s in summaries.values()}),
            trials_per_closed_generation_max=max(per_generation[g] for g in summaries),
        )
    optuna.delete_study(study_name=study_name, storage=storage)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=DEFAULT_STORAGE)
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--trials", type=int, default=250, help="per worker")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds each trial waits")
    parser.add_argument("--out", default="distributed_load", help="results file name")
    parser.add_argument("--samplers", nargs="+", default=["HammingGA", "NSGA-II"], choices=SAMPLERS)
    parser.add_argument("--objective", default="paper", choices=list(OBJECTIVES))
    args = parser.parse_args()
    rows = []
    tmp = Path(__import__("tempfile").mkdtemp())
    for n_workers in args.workers:
        for name in args.samplers:
            row = run(args.storage, name, n_workers, args.trials, args.sleep, tmp, args.objective)
            print(json.dumps(row), flush=True)
            rows.append(row)
    ratios: dict[str, dict[int, float]] = {}
    if "NSGA-II" in args.samplers:
        for name in args.samplers:
            for n_workers in args.workers:
                ours, peer = (
                    next(r for r in rows if r["workers"] == n_workers and r["sampler"] == s)
                    for s in (name, "NSGA-II")
                )
                ratios.setdefault(name, {})[n_workers] = round(
                    ours["sampler_ms_median"] / peer["sampler_ms_median"], 2
                )
    report = {
        "machine": machine(),
        "storage": args.storage.split("@")[-1],
        "population": POPULATION,
        "sleep_s": args.sleep,
        "rows": rows,
        "objective": args.objective,
        "sampler_median_ratio_over_nsga2": ratios,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\n{report['machine']}; PostgreSQL at {report['storage']}; population {POPULATION}; "
        f"objective {args.objective}; each trial sleeps {args.sleep} s"
    )
    print(
        "| sampler | workers | finished / requested | lost | dup. numbers | wall s | trials/s "
        "| sampler ms median (p90) | workers failed | left running | children trained twice "
        "| genomes trained twice | screened after gen. 0 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['sampler']} | {r['workers']} | {r['trials_finished']} / "
            f"{r['trials_requested']} | {r['lost']} | {r['duplicated_numbers']} | {r['wall_s']} "
            f"| {r['trials_per_s']} | {r['sampler_ms_median']} ({r['sampler_ms_p90']}) | "
            f"{r['workers_failed']} | {r['left_running']} | "
            f"{r.get('children_trained_twice', '-')} | {r.get('genomes_trained_twice', '-')} | "
            f"{r.get('screened_after_generation_0', '-')} |"
        )
    print(f"sampler median over NSGA-II's: {ratios}")


if __name__ == "__main__":
    main()
