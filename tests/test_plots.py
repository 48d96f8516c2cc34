"""The paper's figures: hand-checked codes and the points each figure draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
from hypothesis import given
from hypothesis import strategies as st

from optuna_hamming import HammingGASampler
from optuna_hamming.paper import synthetic_objective
from optuna_hamming.tracking.plots import (
    generation_scatter_figure,
    part_a_bits_of,
    part_codes,
    retained_fitness_figure,
    save_figures,
    study_figures,
)


def test_part_codes_read_each_half_as_a_binary_number() -> None:
    # The paper's genome: neurons (3 bits) + layers (2 bits) | activation (2) + optimizer (3).
    assert part_codes("1100111110", 5) == (0b11001, 0b11110)
    assert part_codes("0000000001", 5) == (0, 1)
    assert part_codes("--101", 2) == (0, 0b101)  # absent genes read as zeros


@given(st.text(alphabet="01", min_size=1, max_size=24), st.integers(0, 24))
def test_part_codes_round_trip_the_bits(gene: str, split: int) -> None:
    split = min(split, len(gene))
    a, b = part_codes(gene, split)
    rebuilt = (format(a, f"0{split}b") if split else "") + (
        format(b, f"0{len(gene) - split}b") if len(gene) > split else ""
    )
    assert rebuilt == gene


def _study(generations: int = 4) -> optuna.Study:
    sampler = HammingGASampler(population_size=6, seed=3)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    while sampler.close_finished_generations(study) < generations:
        study.optimize(synthetic_objective, n_trials=1)
    return study


def test_retained_fitness_figure_draws_exactly_the_retained_individuals() -> None:
    study = _study()
    generations = HammingGASampler.generations(study)
    figure = retained_fitness_figure(generations)
    axes = figure.axes[0]
    dots = axes.collections[0].get_offsets()
    expected = [(g, study.trials[n].value) for g, s in generations.items() for n in s["retained"]]
    np.testing.assert_allclose(np.asarray(dots), np.asarray(expected, dtype=float))
    line = axes.lines[0]
    assert list(line.get_xdata()) == list(generations)
    np.testing.assert_allclose(line.get_ydata(), [s["mean_retained"] for s in generations.values()])
    figure.canvas.draw()  # ticks are placed at draw time
    ticks = [t for t in axes.get_xticks() if axes.get_xlim()[0] <= t <= axes.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)  # generations are whole numbers


def test_generation_scatter_puts_every_member_at_its_codes_and_fitness() -> None:
    study = _study(2)
    summary = HammingGASampler.generations(study)[1]
    bits = part_a_bits_of(study)
    assert bits == 5  # neurons (7 choices: 3 bits) + layers (4 choices: 2 bits)
    figure = generation_scatter_figure(summary, 1, part_a_bits=bits)
    xs, ys, zs = figure.axes[0].collections[0]._offsets3d  # type: ignore[attr-defined]
    members = zip(xs, ys, zs, summary["genes"], summary["fitness"], strict=True)
    for x, y, z, gene, fitness in members:
        assert (int(x), int(y)) == part_codes(gene, 5) and z == fitness


def test_study_figures_cover_first_middle_last_generation_and_optuna_plots(
    tmp_path: Path,
) -> None:
    study = _study(5)
    closed = sorted(HammingGASampler.generations(study))
    names = set(study_figures(study))
    first, middle, last = closed[0], closed[len(closed) // 2], closed[-1]
    assert {f"generation_{g}_scatter.png" for g in (first, middle, last)} <= names
    assert {"retained_fitness.png", "optimization_history.png", "param_importances.png"} <= names
    paths = save_figures(study_figures(study), tmp_path / "out")
    assert all(p.stat().st_size > 5_000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_an_empty_study_has_no_figures() -> None:
    study = optuna.create_study(direction="maximize", sampler=HammingGASampler(seed=0))
    assert study_figures(study) == {}
