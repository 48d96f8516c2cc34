"""The keys module reads what existing study databases hold."""

from __future__ import annotations

import optuna
import pytest

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.output import print_generation_table
from optuna_hamming.sampler.attributes import read_generations, summary_key
from optuna_hamming.tracking.plots import generation_scatter_figure, retained_fitness_figure

# A summary as the first versions stored it (before `selection` and `mutation` were added).
STORED_BEFORE = {
    "members": [0, 1, 2],
    "fitness": [0.5, 0.7, 0.6],
    "retained": [1],
    "selected": [2],
    "significant": 2.5,
    "hamming_min": 1,
    "hamming_max": 6,
    "best": 0.7,
    "mean_retained": 0.7,
    "genes": ["0000000000", "1100111110", "0101010101"],
    "next_children": 1,
    "next_archived": 0,
    "forced_mutations": 0,
}


def test_a_summary_stored_before_new_fields_reads_and_draws(
    capsys: pytest.CaptureFixture[str],
) -> None:
    study = optuna.create_study(direction="maximize")
    study.set_user_attr(summary_key(0), STORED_BEFORE)
    study.set_user_attr("ga.generation.notes", "not a generation")  # left alone
    generations = read_generations(study)
    assert generations == {0: STORED_BEFORE} == HammingGASampler.generations(study)
    print_generation_table(study)
    assert "0.700" in capsys.readouterr().out
    assert retained_fitness_figure(generations).axes
    assert generation_scatter_figure(generations[0], 0, part_a_bits=5).axes


def test_new_summaries_record_their_strategies() -> None:
    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=4, seed=0)
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=9)
    summary = read_generations(study)[0]
    assert set(STORED_BEFORE) <= set(summary)
    assert summary["selection"] == "HammingGateSelection(retain=0.4, select=0.5)"
    assert summary["mutation"] == "ForcedMutation(rate=0.2)"
