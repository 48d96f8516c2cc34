"""experiments/protocol_tables.py: the heads issue's target, judged pair by pair from rows."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from protocol_tables import paired, strongest, target


def row(dataset: str, method: str, seed: int, test: float, validation: float | None) -> dict:
    return {
        "dataset": dataset,
        "backbone": "b",
        "method": method,
        "seed": str(seed),
        "test_macro_f1": str(test),
        "validation_macro_f1": "" if validation is None else str(validation),
    }


def rows_of(dataset: str, scores: dict[str, list[tuple[float, float | None]]]) -> list[dict]:
    return [
        row(dataset, method, seed, test, validation)
        for method, per_seed in scores.items()
        for seed, (test, validation) in enumerate(per_seed)
    ]


def line_of(text: str, dataset: str) -> list[str]:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(f"| {dataset} |")]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_pair_meets_the_target_only_when_every_criterion_holds() -> None:
    # The strongest logistic regression is the flip variant (mean 0.89 against 0.88):
    # recommended minus it: +0.01, +0.03 (mean 0.02, se 0.01), above one standard error.
    # The strongest default head is the plain one (0.88 against 0.86): +0.01, +0.05
    # (mean 0.03, se 0.02), above it too. Gaps: recommended 0, the paper GA's 0.04: under half.
    met = rows_of(
        "won",
        {
            "recommended": [(0.90, 0.91), (0.92, 0.91)],
            "logistic-regression": [(0.88, 0.88), (0.88, 0.88)],
            "logistic-regression-flip": [(0.89, 0.89), (0.89, 0.89)],
            "default-head": [(0.89, 0.90), (0.87, 0.90)],
            "default-head-flip": [(0.86, 0.90), (0.86, 0.90)],
            "hamming-ga": [(0.86, 0.90), (0.86, 0.90)],
        },
    )
    # The default head is beaten by less than a standard error (-0.01, +0.07: mean 0.03,
    # se 0.04), and the gap is not under half the GA's (0.03 against 0.04).
    missed = rows_of(
        "lost",
        {
            "recommended": [(0.90, 0.93), (0.92, 0.95)],
            "logistic-regression": [(0.88, 0.88), (0.88, 0.88)],
            "default-head": [(0.91, 0.90), (0.85, 0.90)],
            "hamming-ga": [(0.86, 0.90), (0.86, 0.90)],
        },
    )
    # lfw is separable by every baseline: reported elsewhere, not judged here.
    lfw = rows_of("lfw", {"recommended": [(1.0, 1.0)], "logistic-regression": [(1.0, 1.0)]})
    text = target(met + missed + lfw)
    assert line_of(text, "won") == [
        "won", "b", "2", "logistic-regression-flip: +0.0200 ± 0.0100 yes",
        "default-head: +0.0300 ± 0.0200 yes", "+0.0000 / +0.0400 yes", "yes",
    ]  # fmt: skip
    assert line_of(text, "lost") == [
        "lost", "b", "2", "logistic-regression: +0.0300 ± 0.0100 yes",
        "default-head: +0.0300 ± 0.0400 no", "+0.0300 / +0.0400 no", "no",
    ]  # fmt: skip
    assert "| lfw |" not in text
    # The paired table reads the same differences, with their standard error.
    assert "| lost | b | default-head | 2 | +0.0300 | 0.0566 | 0.0400 | 1 / 0 / 1 |" in paired(
        missed
    )
    assert strongest(met, "default-head", "won", "b") == "default-head"
    assert strongest(met, "logistic-regression", "won", "b") == "logistic-regression-flip"
    assert strongest(met, "tpe-head", "won", "b") is None


def test_a_baseline_missing_on_a_pair_fails_it_rather_than_passing_it() -> None:
    rows = rows_of("half", {"recommended": [(0.9, 0.9)], "logistic-regression": [(0.8, 0.8)]})
    cells = line_of(target(rows), "half")
    assert cells[4:] == ["-", "-", "no"]
