"""experiments/paper_protocol.py end to end on lfw_subset (all six methods), and a stopped GA
run continuing."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import optuna
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

# The experiment runs on JAX: only make test's JAX pass runs it (two minutes a backend).
pytestmark = [
    pytest.mark.keras,
    pytest.mark.skipif(
        os.environ.get("KERAS_BACKEND") != "jax",
        reason="the protocol runs on JAX; `KERAS_BACKEND=jax pytest -m keras` runs this",
    ),
]


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_the_protocol_scores_every_method_and_a_stopped_ga_run_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paper_protocol import main

    from optuna_hamming import HammingGASampler

    monkeypatch.setenv("OPTUNA_HAMMING_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "protocol"
    arguments = [
        "--datasets", "lfw", "--backbones", "torchvision-mobilenet-v2", "--seeds", "0",
        "--population", "4", "--max-epochs", "2", "--out", str(out), "--folds", "2",
        "--ensemble-size", "3",
        "--figures-of", "lfw-torchvision-mobilenet-v2-seed0",
    ]  # fmt: skip
    main([*arguments, "--generations", "1"])
    new = ["logistic-regression-flip", "default-head-shifts", "recommended"]
    main([*arguments, "--generations", "1", "--methods", *new])
    rows = rows_of(out.with_suffix(".csv"))
    methods = ["default-head", "logistic-regression", "hamming-ga", "tpe-head", "recommended-v1",
               "cv-best", *new]  # fmt: skip
    assert [r["method"] for r in rows] == methods
    for row in rows:
        assert 0.0 <= float(row["test_macro_f1"]) <= 1.0
        assert float(row["test_accuracy"]) > 0.5  # two balanced classes, ImageNet features
    assert rows[2]["generations"] == "1" and int(rows[2]["trials"]) >= 4
    assert rows[3]["trials"] == rows[2]["trials"]  # TPE: as many trials as the GA trained
    assert (rows[4]["fitness"], rows[4]["final"]) == ("cv2", "ensemble3")
    picks = [int(part.split("x ")[0]) for part in rows[4]["genome"].split("; ")]
    assert 1 <= sum(picks) <= 3  # the ensemble's members and their picks
    assert (rows[5]["fitness"], rows[5]["final"]) == ("cv2", "best")
    assert rows[5]["trials"] == rows[4]["trials"]  # cv-best reads recommended-v1's study
    # The preset: its own folds and ensemble, its views chosen by CV, all in its settings.
    preset_row = rows[8]
    assert (preset_row["fitness"], preset_row["final"]) == ("cv3", "ensemble10")
    assert preset_row["genome"].startswith("views ")
    assert (
        "sampler=accelerated" in preset_row["settings"] and "views=auto" in preset_row["settings"]
    )
    figures = sorted(p.name for p in (out.parent / "protocol_figures").iterdir())
    assert "retained_fitness.png" in figures and "generation_0_scatter.png" in figures
    table = out.with_suffix(".md").read_text()
    assert "| lfw | torchvision-mobilenet-v2 | hamming-ga | 1 |" in table
    paired = table[table.index("| dataset | backbone | recommended minus |") :]
    by_method = {r["method"]: float(r["test_macro_f1"]) for r in rows}
    difference = by_method["recommended"] - by_method["logistic-regression-flip"]
    assert (
        f"| lfw | torchvision-mobilenet-v2 | logistic-regression-flip | 1 | {difference:+.4f} |"
        in paired
    )

    # A run stopped inside the GA: its row is not written and one trial is left RUNNING.
    storage = f"sqlite:///{out}_studies.db"
    name = "lfw-torchvision-mobilenet-v2-seed0-hamming-ga-population4-epochs2-patience5"
    study = optuna.load_study(study_name=name, storage=storage)
    first_trials = [(t.number, t.params) for t in study.trials]
    study.ask()
    with out.with_suffix(".csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([r for r in rows if r["method"] != "hamming-ga"])

    main([*arguments, "--generations", "2", "--methods", "hamming-ga"])
    rows = rows_of(out.with_suffix(".csv"))
    assert [r["method"] for r in rows] == [*methods[:2], *methods[3:], "hamming-ga"]
    assert rows[-1]["generations"] == "2"
    study = optuna.load_study(study_name=name, storage=storage)
    assert [(t.number, t.params) for t in study.trials[: len(first_trials)]] == first_trials
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1  # the stopped run's trial
    assert optuna.trial.TrialState.RUNNING not in states
    assert len(HammingGASampler.generations(study)) == 2

    # --methods runs the named methods alone (here the baseline that needs no Keras).
    main([*arguments, "--seeds", "1", "--methods", "logistic-regression"])
    rows = rows_of(out.with_suffix(".csv"))
    assert [(r["seed"], r["method"]) for r in rows[9:]] == [("1", "logistic-regression")]

    # A row is done only for the settings it was made with: other epochs train a new
    # default head (logistic regression reads no epochs: still done), once, and the tables
    # are drawn from the rows of the settings given.
    for _ in range(2):
        main([*arguments, "--seeds", "1", "--methods", "default-head", "logistic-regression",
              "--max-epochs", "3"])  # fmt: skip
    rows = rows_of(out.with_suffix(".csv"))
    assert [(r["method"], r["settings"]) for r in rows[10:]] == [
        ("default-head", "max_epochs=3 patience=5")
    ]
    assert rows[0]["settings"] == "max_epochs=2 patience=5"
    table = out.with_suffix(".md").read_text()
    assert "| lfw | torchvision-mobilenet-v2 | default-head | 1 |" in table
    assert "| lfw | torchvision-mobilenet-v2 | hamming-ga |" not in table


def test_a_figures_of_that_names_no_run_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from paper_protocol import main

    out = tmp_path / "protocol"
    with pytest.raises(SystemExit) as exited:
        main(["--figures-of", "animal-mnist-seed0", "--out", str(out)])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--figures-of 'animal-mnist-seed0' names no run" in error
    assert "animal-mnist-imbalanced-torchvision-mobilenet-v2-seed0" in error
    assert not out.with_suffix(".csv").exists()  # refused before anything ran


def test_the_tpe_budget_is_read_from_the_csv_where_the_ga_study_is_gone(tmp_path: Path) -> None:
    # A fresh clone keeps the CSV and not the studies: a seed whose hamming-ga row is in the
    # CSV still gets its TPE head, with as many trials as that row says the GA trained.
    import argparse

    from paper_protocol import ga_trials
    from protocol_rows import FIELDS

    out = tmp_path / "protocol"
    with out.with_suffix(".csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        row = dict.fromkeys(FIELDS, "")
        row.update(dataset="digits", backbone="efficientnet-lite0", seed="4", trials="23")
        row["settings"] = "population=12 generations=3 max_epochs=200 patience=5"
        writer.writerow({**row, "method": "hamming-ga"})
        writer.writerow({**row, "seed": "3", "method": "default-head"})
    args = argparse.Namespace(out=out, population=12, generations=3, max_epochs=200, patience=5)
    assert ga_trials("digits-efficientnet-lite0-seed4", args) == 23
    with pytest.raises(SystemExit, match="run hamming-ga first"):
        ga_trials("digits-efficientnet-lite0-seed3", args)


def test_a_csv_from_before_the_settings_column_is_upgraded_with_the_legacy_settings(
    tmp_path: Path,
) -> None:
    from protocol_rows import FIELDS, LEGACY_FIELDS, prepare_csv, read_rows

    path = tmp_path / "protocol.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LEGACY_FIELDS)
        writer.writeheader()
        row = dict.fromkeys(LEGACY_FIELDS, "x")
        writer.writerow({**row, "method": "logistic-regression"})
        writer.writerow({**row, "method": "recommended"})
    assert prepare_csv(path) is None
    assert rows_of(path)[0].keys() == set(FIELDS)
    assert [(r["method"], r["settings"]) for r in read_rows(path)] == [
        ("logistic-regression", ""),
        (
            "recommended-v1",  # the first recommendation, before the preset took the name
            "population=12 generations=3 max_epochs=200 patience=5 folds=3 ensemble_size=10",
        ),
    ]
    assert rows_of(path)[1]["genome"] == "x"  # nothing else changed

    path.write_text("dataset,method\n")
    problem = prepare_csv(path)
    assert problem is not None and "pass another --out" in problem
