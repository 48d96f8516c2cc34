"""A study keeps the sampler settings it was started with, from Python (the CLI's path is in
tests/test_cli.py and tests/test_bad_input.py)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optuna_hamming import HammingGASampler, SurrogateScreening, recommended_sampler
from optuna_hamming.ga import ForcedMutation, HammingGateSelection, PlainMutation, UngatedSelection
from optuna_hamming.ga.surrogate import ForestSurrogate
from optuna_hamming.sampler import SettingsMismatchError
from optuna_hamming.sampler._stored_settings import (
    differences,
    settings_from_json,
    settings_to_json,
)
from optuna_hamming.sampler.attributes import SETTINGS_KEY
from optuna_hamming.sampler.child_generation import ScreenedGeneration
from tests.helpers import paper_objective
from tests.test_golden import digest

LOGGER = "optuna_hamming.sampler"


def _children_per_generation(study: optuna.Study) -> list[int]:
    return [s["next_children"] for s in HammingGASampler.generations(study).values()]


def test_a_study_stores_its_settings_with_its_first_trial(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'kept.db'}"
    study = optuna.create_study(
        storage=storage, direction="maximize", sampler=recommended_sampler(seed=1)
    )
    assert HammingGASampler.stored_settings(study) is None
    study.optimize(paper_objective, n_trials=1)
    stored = HammingGASampler.stored_settings(study)
    assert stored == settings_to_json(recommended_sampler().settings)
    assert stored is not None and stored["child_generation"]["class"] == "ScreenedGeneration"
    assert study._storage.get_study_system_attrs(study._study_id)[SETTINGS_KEY] == stored


def test_python_continuation_with_other_settings_keeps_the_stored_ones_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage = f"sqlite:///{tmp_path / 'kept.db'}"
    study = optuna.create_study(
        study_name="kept",
        storage=storage,
        direction="maximize",
        sampler=recommended_sampler(seed=5),
    )
    study.optimize(paper_objective, n_trials=40)
    # Reopened with the paper's sampler at another population size, as a user would.
    other = HammingGASampler(seed=5, population_size=8)
    continued = optuna.load_study(study_name="kept", storage=storage, sampler=other)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        continued.optimize(paper_objective, n_trials=40)
    (warning,) = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert "keeps the sampler settings it was started with" in warning
    assert "population_size=30 (this sampler: 8)" in warning
    assert "child_generation.class='ScreenedGeneration' (this sampler: 'PaperGeneration')" in (
        warning
    )
    assert "skip_duplicates=True (this sampler: False)" in warning
    assert "selection" not in warning  # only what differs is named
    assert other.settings_for(continued) == recommended_sampler().settings
    assert set(_children_per_generation(continued)) <= {1, 2}  # the lean screening's
    # Bit for bit the study one sampler would have run: nothing of the other one leaked in.
    straight = optuna.create_study(direction="maximize", sampler=recommended_sampler(seed=5))
    straight.optimize(paper_objective, n_trials=80)
    assert digest(continued) == digest(straight)


def test_the_same_settings_continue_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage = f"sqlite:///{tmp_path / 'same.db'}"
    first = optuna.create_study(
        study_name="same", storage=storage, direction="maximize", sampler=HammingGASampler()
    )
    first.optimize(paper_objective, n_trials=5)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        again = optuna.load_study(study_name="same", storage=storage, sampler=HammingGASampler())
        again.optimize(paper_objective, n_trials=5)
    assert not [r for r in caplog.records if r.name == LOGGER]


@dataclasses.dataclass(frozen=True)
class TopHalf(HammingGateSelection):
    """A selection of the user's own: a class the stored settings cannot rebuild."""


def test_a_strategy_of_the_users_own_that_differs_is_refused_with_the_fix() -> None:
    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(selection=TopHalf(retain=0.5), seed=0)
    )
    study.optimize(paper_objective, n_trials=3)
    study.sampler = HammingGASampler(selection=TopHalf(retain=0.3), seed=0)
    with pytest.raises(SettingsMismatchError, match=r"selection.retain=0.5 \(this sampler: 0.3\)"):
        study.optimize(paper_objective, n_trials=1)
    # The refused trial is not left RUNNING, and the study goes on with the same strategy.
    assert study.trials[-1].state == optuna.trial.TrialState.FAIL
    study.sampler = HammingGASampler(selection=TopHalf(retain=0.5), seed=0)
    study.optimize(paper_objective, n_trials=1)
    assert study.trials[-1].state == optuna.trial.TrialState.COMPLETE


rates = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    population_size=st.integers(2, 64),
    float_bits=st.integers(1, 30),
    skip=st.booleans(),
    gated=st.booleans(),
    forced=st.booleans(),
    retain=rates,
    select=rates,
    mutate=rates,
    screened=st.booleans(),
    children=st.integers(1, 8),
    trees=st.integers(2, 16),
    design=st.sampled_from(["random", "latin"]),
)
def test_stored_settings_rebuild_what_was_stored(
    population_size: int,
    float_bits: int,
    skip: bool,
    gated: bool,
    forced: bool,
    retain: float,
    select: float,
    mutate: float,
    screened: bool,
    children: int,
    trees: int,
    design: str,
) -> None:
    screening = SurrogateScreening(
        children=children, model=ForestSurrogate(n_trees=trees), initial_design=design
    )
    sampler = HammingGASampler(
        population_size=population_size,
        float_bits=float_bits,
        skip_duplicates=skip,
        selection=(HammingGateSelection if gated else UngatedSelection)(retain, select),
        mutation=(ForcedMutation if forced else PlainMutation)(mutate),
        screening=screening if screened else None,
    )
    stored = settings_to_json(sampler.settings)
    assert settings_from_json(stored) == sampler.settings
    assert differences(stored, settings_to_json(sampler.settings)) == []


def test_differences_name_each_leaf() -> None:
    paper = settings_to_json(HammingGASampler().settings)
    screened = settings_to_json(
        HammingGASampler(child_generation=ScreenedGeneration(SurrogateScreening())).settings
    )
    changed = differences(paper, screened)
    assert "child_generation.class='PaperGeneration' (this sampler: 'ScreenedGeneration')" in (
        changed
    )
    # The new class's fields are not listed one by one: the class line says it.
    assert not any(name.startswith("child_generation.screening") for name in changed)
    assert not any(name.startswith(("selection", "mutation")) for name in changed)
    lean = settings_to_json(recommended_sampler().settings)
    defaults = settings_to_json(recommended_sampler(screening=SurrogateScreening()).settings)
    assert "child_generation.screening.children=2 (this sampler: 4)" in differences(lean, defaults)
