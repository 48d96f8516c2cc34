"""Generation 0 as a Latin hypercube: the numpy half (layer 1) on hand-checked slices and
hypothesis properties, and the sampler with ``SurrogateScreening(initial_design="latin")``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optuna_hamming import SurrogateScreening, recommended_sampler
from optuna_hamming.ga.design import latin_choice, latin_slice
from optuna_hamming.sampler.attributes import CHILD_KEY, GENERATION_ATTR, ORIGIN_ATTR
from tests.helpers import history, make_storage, storage_spec

# -- layer 1 ----------------------------------------------------------------------------------


class Fixed:
    """A stand-in for a Generator whose random() is given: the slices' edges by hand."""

    def __init__(self, u: float) -> None:
        self.u = u

    def random(self) -> float:
        return self.u


@pytest.mark.parametrize(
    ("n_choices", "n_slices", "u", "expected"),
    [
        # Ten values in ten slices: slice k is value k, wherever in the slice.
        *[(10, 10, u, list(range(10))) for u in (0.0, 0.5, 0.999)],
        # Three values in ten slices: [0, 0.3), [0.3, 0.6), ... of the three.
        (3, 10, 0.0, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]),
        (3, 10, 0.999, [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]),
        # Eight grid points in four slices: two points a slice.
        (8, 4, 0.0, [0, 2, 4, 6]),
        (8, 4, 0.6, [1, 3, 5, 7]),
    ],
)
def test_latin_choice_draws_within_its_slice(
    n_choices: int, n_slices: int, u: float, expected: list[int]
) -> None:
    found = [latin_choice(n_choices, k, n_slices, Fixed(u)) for k in range(n_slices)]  # type: ignore[arg-type]
    assert found == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_latin_choices_spread_like_the_slices(n_choices: int, n_slices: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    choices = [latin_choice(n_choices, k, n_slices, rng) for k in range(n_slices)]
    assert all(0 <= c < n_choices for c in choices)
    assert choices == sorted(choices)  # slice by slice, left to right
    # No value is taken more often than the slices that overlap it allow, and when the
    # slices divide the values evenly every value is taken equally often.
    counts = np.bincount(choices, minlength=n_choices)
    assert counts.max() <= -(-n_slices // n_choices) + 1
    if n_slices % n_choices == 0:
        assert set(counts) == {n_slices // n_choices}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.text(min_size=1, max_size=8), st.integers(1, 30))
def test_each_gene_gives_every_slice_to_one_genome(seed: int, gene: str, n_slices: int) -> None:
    slices = [latin_slice(seed, gene, index, n_slices) for index in range(n_slices)]
    assert sorted(slices) == list(range(n_slices))
    assert slices == [latin_slice(seed, gene, index, n_slices) for index in range(n_slices)]


def test_genes_and_seeds_have_their_own_permutations() -> None:
    def order(seed: int, gene: str) -> list[int]:
        return [latin_slice(seed, gene, index, 10) for index in range(10)]

    assert order(0, "width") != order(0, "depth")
    assert order(0, "width") != order(1, "width")


def test_latin_refuses_an_index_outside_the_slices() -> None:
    with pytest.raises(ValueError, match=r"index must be in \[0, 10\)"):
        latin_slice(0, "a", 10, 10)
    with pytest.raises(ValueError, match=r"position must be in \[0, 4\)"):
        latin_choice(8, -1, 4, np.random.default_rng(0))


# -- layer 2: the sampler ---------------------------------------------------------------------


def grid_objective(trial: optuna.Trial) -> float:
    """Four ten-valued genes and a three-valued one, as HPOBench's grids."""
    genes = [trial.suggest_int(name, 0, 9) for name in ("a", "b", "c", "d")]
    return float(sum(genes) + trial.suggest_int("e", 0, 2))


def latin_study(storage: str | None = None, n_jobs: int = 1, seed: int = 3) -> optuna.Study:
    screening = SurrogateScreening.lean(initial_design="latin")
    study = optuna.create_study(
        storage=make_storage(storage) if storage else None,
        direction="maximize",
        sampler=recommended_sampler(seed=seed, screening=screening),
    )
    study.optimize(grid_objective, n_trials=30, n_jobs=n_jobs)
    return study


def first_generation(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Generation 0's ten planned children (idle threads train extra ones, drawn at random)."""
    return [
        t
        for t in study.trials
        if t.user_attrs[GENERATION_ATTR] == 0 and t.system_attrs[CHILD_KEY][1] < 10
    ]


@pytest.mark.parametrize("kind", ["inmemory", "sqlite"])
def test_generation_zero_takes_every_value_of_every_ten_valued_gene(
    kind: str, tmp_path: Path
) -> None:
    # Four threads on SQLite claim the ten children in any order; the slices follow the
    # child index, so the design holds whichever worker trains which child.
    study = latin_study(storage_spec(kind, tmp_path), n_jobs=1 if kind == "inmemory" else 4)
    first = first_generation(study)
    assert len(first) == 10 and {t.user_attrs[ORIGIN_ATTR] for t in first} == {"initial"}
    for name in ("a", "b", "c", "d"):
        assert sorted(t.params[name] for t in first) == list(range(10))
    # The three-valued gene: slices 0-2 give 0, 3 gives 0 or 1, 4-5 give 1, 6 gives 1 or 2,
    # 7-9 give 2.
    counts = np.bincount([t.params["e"] for t in first], minlength=3)
    assert 3 <= counts[0] <= 4 and 2 <= counts[1] <= 4 and 3 <= counts[2] <= 4


def test_latin_studies_are_seeded_and_the_default_stays_random() -> None:
    assert history(latin_study()) == history(latin_study())
    assert history(latin_study()) != history(latin_study(seed=4))
    # Random draws (SurrogateScreening's default) see all ten values of a ten-valued gene
    # rarely.
    random = recommended_sampler(seed=3, screening=SurrogateScreening.lean())
    study = optuna.create_study(direction="maximize", sampler=random)
    study.optimize(grid_objective, n_trials=10)
    covered = [len({t.params[name] for t in study.trials}) for name in ("a", "b", "c", "d")]
    assert min(covered) < 10


def test_an_enqueued_trial_keeps_its_values_in_a_latin_generation() -> None:
    screening = SurrogateScreening.lean(initial_design="latin")
    study = optuna.create_study(
        direction="maximize", sampler=recommended_sampler(seed=3, screening=screening)
    )
    study.enqueue_trial({"a": 9, "b": 9, "c": 9, "d": 9, "e": 2})
    study.optimize(grid_objective, n_trials=12)
    assert study.trials[0].params == {"a": 9, "b": 9, "c": 9, "d": 9, "e": 2}
    assert study.best_value == 38.0
    # It took child 0's place; children 1-9 keep their slices: nine values of each gene.
    others = [t for t in first_generation(study) if t.number != 0]
    assert len(others) == 9
    for name in ("a", "b", "c", "d"):
        assert len({t.params[name] for t in others}) == 9


def test_an_unknown_initial_design_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="initial_design='random' or 'latin'"):
        SurrogateScreening(initial_design="sobol")
