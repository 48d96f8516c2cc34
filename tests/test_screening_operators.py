"""The accelerated mode's numpy half (layer 1): the screening's operators on hand-checked
genomes and hypothesis properties (the sampler's contracts with it on: test_screening.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optuna_hamming import ForestSurrogate
from optuna_hamming.ga import GenomeLayout
from optuna_hamming.ga.breeding import ForcedMutation
from optuna_hamming.ga.screening import (
    ORIGIN_DENSITY,
    ORIGIN_MUTATION,
    ORIGIN_RANDOM,
    candidate_pool,
    density_sample,
    elite_count,
    evaluated_test,
    expected_improvement,
    explore_count,
    gene_features,
    neighbours,
    pair_neighbours,
    perturbation,
    screen,
)
from optuna_hamming.sampler.attributes import ORIGINS

# -- layer 1: the operators -----------------------------------------------------------------


def test_neighbours_are_every_one_gene_change_in_gene_order() -> None:
    layout = GenomeLayout((2, 3))
    found = [g.tolist() for g in neighbours(np.array([0, 1]), layout)]
    assert found == [[1, 1], [0, 0], [0, 2]]


def test_absent_genes_stay_absent_in_neighbours_and_perturbations() -> None:
    layout = GenomeLayout((2, 3, 4))
    genome = np.array([1, -1, 2])
    assert [g.tolist() for g in neighbours(genome, layout)] == [
        [0, -1, 2], [1, -1, 0], [1, -1, 1], [1, -1, 3],
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert perturbation(genome, layout, [True, True, False], rng)[1] == -1


def test_pair_neighbours_are_every_two_gene_change_pair_by_pair() -> None:
    layout = GenomeLayout((2, 3, 2))
    found = [g.tolist() for g in pair_neighbours(np.array([0, 1, 0]), layout)]
    assert found == [
        [1, 0, 0], [1, 2, 0],  # genes 0 and 1
        [1, 1, 1],  # genes 0 and 2
        [0, 0, 1], [0, 2, 1],  # genes 1 and 2
    ]  # fmt: skip
    # An absent gene, or one with a single value, takes no part.
    assert [g.tolist() for g in pair_neighbours(np.array([1, -1, 0]), layout)] == [[0, -1, 1]]
    assert pair_neighbours(np.array([0, 0]), GenomeLayout((1, 5))) == []


def test_a_candidate_repeats_an_evaluated_genome_that_lacks_some_of_its_genes() -> None:
    is_evaluated = evaluated_test([np.array([1, -1, 2]), np.array([0, 3, -1])])
    assert is_evaluated(np.array([1, 0, 2]))  # gene 1 was not asked for: the same trial
    assert is_evaluated(np.array([0, 3, 1]))
    assert not is_evaluated(np.array([1, 0, 1]))
    assert not is_evaluated(np.array([0, 2, 1]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(-1, 2), min_size=3, max_size=3), max_size=12),
    st.lists(st.integers(0, 2), min_size=3, max_size=3),
)
def test_evaluated_test_agrees_with_its_definition_gene_by_gene(
    evaluated: list[list[int]], candidate: list[int]
) -> None:
    # The definition: some evaluated genome agrees with the candidate on each gene it has
    # (a genome with no gene at all matches every candidate).
    expected = any(
        all(e == c for e, c in zip(g, candidate, strict=True) if e != -1) for g in evaluated
    )
    genomes = [np.array(g, dtype=np.int64) for g in evaluated]
    query = np.array(candidate, dtype=np.int64)
    assert evaluated_test(genomes)(query) == expected
    # The sampler passes one 2-D array (read-only, from a byte buffer); any layout of it.
    table = np.array(evaluated, dtype=np.int64).reshape(len(evaluated), 3)
    strided = np.repeat(table, 2, axis=1)[:, ::2]  # not contiguous
    for form in (table, np.asfortranarray(table), strided):
        assert evaluated_test(form)(query) == expected


def test_gene_features_put_ordered_genes_on_the_grid_and_one_hot_the_rest() -> None:
    layout = GenomeLayout((3, 2, 1))  # the single-choice gene is left out
    genomes = np.array([[0, 1, 0], [2, 0, 0], [-1, -1, 0]])
    features = gene_features(genomes, layout, ordered=[True, False, True])
    assert features.tolist() == [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]


@settings(max_examples=60, deadline=None)
@given(
    cardinalities=st.lists(st.integers(1, 9), min_size=1, max_size=6),
    ordered_bits=st.integers(0, 63),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_perturbation_moves_ordered_genes_by_at_most_two_steps(
    cardinalities: list[int], ordered_bits: int, seed: int
) -> None:
    layout = GenomeLayout(tuple(cardinalities))
    ordered = [bool(ordered_bits >> j & 1) for j in range(len(cardinalities))]
    rng = np.random.default_rng(seed)
    parent = np.array([int(rng.integers(n)) for n in cardinalities])
    child = perturbation(parent, layout, ordered, rng)
    assert all(0 <= c < n for c, n in zip(child, cardinalities, strict=True))
    if any(n >= 2 for n in cardinalities):
        assert (child != parent).any()
    for c, p, is_ordered in zip(child, parent, ordered, strict=True):
        if is_ordered:
            assert abs(int(c) - int(p)) <= 2


def test_expected_improvement_by_hand() -> None:
    mean = np.array([1.0, 2.0, 0.5])
    spread = np.array([1.0, 0.0, 0.0])
    ei = expected_improvement(mean, spread, best=1.0)
    # At the best with unit spread: sigma * pdf(0) = 0.39894...; no spread: the excess.
    assert ei == pytest.approx([1 / np.sqrt(2 * np.pi), 1.0, 0.0])


@pytest.mark.parametrize("min_samples_leaf", [1, 3])
def test_forest_surrogate_predicts_what_scikit_learns_extra_trees_predict(
    min_samples_leaf: int,
) -> None:
    # It fits the trees one by one for speed: the forest they make must be scikit-learn's.
    from sklearn.ensemble import ExtraTreesRegressor

    rng = np.random.default_rng(4)
    features = rng.integers(0, 10, (80, 5)) / 9.0
    values = rng.normal(size=80)
    candidates = rng.integers(0, 10, (40, 5)) / 9.0
    surrogate = ForestSurrogate(n_trees=7, min_samples_leaf=min_samples_leaf, max_features=0.6)
    mean, spread = surrogate.fit_predict(features, values, candidates, seed=11)
    forest = ExtraTreesRegressor(
        n_estimators=7, min_samples_leaf=min_samples_leaf, max_features=0.6, random_state=11
    ).fit(features, values)
    candidates32 = candidates.astype(np.float32)
    per_tree = np.stack([tree.predict(candidates32) for tree in forest.estimators_])
    np.testing.assert_array_equal(mean, per_tree.mean(axis=0))
    np.testing.assert_array_equal(spread, per_tree.std(axis=0))
    np.testing.assert_allclose(mean, forest.predict(candidates), rtol=1e-12)


def test_screen_takes_the_best_then_explores_among_the_bred() -> None:
    acquisition = np.array([0.1, 0.5, 0.3, 0.9])
    greedy = screen(acquisition, [0, 2], 2, explore=0.0, rng=np.random.default_rng(0))
    assert greedy.chosen == (3, 1) and greedy.by_model == (True, True)
    mixed = screen(acquisition, [0, 2], 3, explore=1 / 3, rng=np.random.default_rng(0))
    assert mixed.chosen[:2] == (3, 1) and mixed.chosen[2] in (0, 2)
    assert mixed.by_model == (True, True, False)
    assert screen(acquisition, [0], 9, explore=0.5, rng=np.random.default_rng(0)).chosen == (
        3, 1, 2, 0,
    )  # fmt: skip
    # An explorable candidate the model took already: the model's next best fills its place.
    few = screen(acquisition, [3, 0], 3, explore=2 / 3, rng=np.random.default_rng(0))
    assert few.chosen == (3, 0, 1) and few.by_model == (True, False, True)


def test_candidate_pool_is_distinct_unevaluated_and_holds_the_best_parents_neighbours() -> None:
    layout = GenomeLayout((4, 4, 2))
    parents = [np.array([1, 1, 0]), np.array([3, 0, 1])]
    evaluated = {np.array(g).tobytes() for g in ([1, 1, 0], [3, 0, 1], [2, 1, 0])}
    pool = candidate_pool(
        parents,
        [0, 1],
        layout,
        n_bred=20,
        n_local=1,
        n_random=5,
        n_perturbed=10,
        ordered=[True, True, False],
        split=1,
        mutation=ForcedMutation(),
        rng=np.random.default_rng(3),
        is_evaluated=lambda g: g.tobytes() in evaluated,
    )
    keys = [c.genome.tobytes() for c in pool]
    assert len(keys) == len(set(keys)) and not set(keys) & evaluated
    genomes = {tuple(c.genome.tolist()) for c in pool}
    expected = {tuple(g.tolist()) for g in neighbours(parents[0], layout)} - {(2, 1, 0)}
    assert expected <= genomes
    assert {c.origin for c in pool} <= set(ORIGINS)
    assert all(c.male == c.female == 0 for c in pool if c.origin == ORIGIN_MUTATION)
    assert all(c.male == -1 for c in pool if c.origin == ORIGIN_RANDOM)


def test_candidate_pool_holds_the_best_parents_pair_neighbours_when_asked() -> None:
    layout = GenomeLayout((4, 4, 2))
    parents = [np.array([1, 1, 0]), np.array([3, 0, 1])]

    def pool_of(n_pairs: int) -> set[tuple[int, ...]]:
        pool = candidate_pool(
            parents, [1, 0], layout, n_bred=0, n_local=0, n_random=0, n_pairs=n_pairs,
            split=1, mutation=ForcedMutation(), rng=np.random.default_rng(0),
            is_evaluated=lambda g: False,
        )  # fmt: skip
        assert all(c.origin == ORIGIN_MUTATION and c.male == 1 for c in pool)
        return {tuple(c.genome.tolist()) for c in pool}

    assert pool_of(0) == set()
    # The best parent is parents[1]: 3 x 3 + 3 x 1 + 3 x 1 two-gene changes of it.
    assert pool_of(1) == {tuple(g.tolist()) for g in pair_neighbours(parents[1], layout)}
    assert len(pool_of(1)) == 15


def test_elite_count_is_tpes_split_and_at_least_one() -> None:
    assert [elite_count(n) for n in (0, 1, 10, 11, 100, 249, 250, 600)] == [
        1, 1, 1, 2, 10, 25, 25, 25,
    ]  # fmt: skip


def test_density_sample_draws_each_gene_from_the_elites_values_and_the_prior() -> None:
    layout = GenomeLayout((3, 4, 1))
    elite = [np.array([0, 1, 0]), np.array([0, -1, 0])]
    drawn = np.array(
        density_sample(elite, layout, [False, True, False], np.random.default_rng(0), 40_000)
    )
    assert drawn.shape == (40_000, 3) and drawn.dtype == np.int64
    # Gene 0, unordered: weight 1/3 per value from the prior, 2 more on value 0 (both elites).
    expected = np.array([1 / 3 + 2, 1 / 3, 1 / 3]) / 3
    assert np.allclose(np.bincount(drawn[:, 0], minlength=3) / 40_000, expected, atol=0.01)
    # Gene 1, ordered: 1/4 per value, plus one Gaussian of one step around 1 (the second
    # elite lacks the gene and adds nothing).
    kernel = np.exp(-0.5 * (np.arange(4) - 1.0) ** 2)
    expected = (0.25 + kernel / kernel.sum()) / 2
    assert np.allclose(np.bincount(drawn[:, 1], minlength=4) / 40_000, expected, atol=0.01)
    assert set(drawn[:, 2]) == {0}
    # With a negligible prior and a narrow kernel, every draw is the elite genome; no prior
    # at all would leave a gene no elite genome has without any weight.
    narrow = density_sample(
        elite[:1], layout, [False, True, False], np.random.default_rng(1), 50, prior=1e-12,
        bandwidth=0.01,
    )  # fmt: skip
    assert all(g.tolist() == [0, 1, 0] for g in narrow)
    with pytest.raises(ValueError, match=r"prior=1\.0"):
        density_sample(elite, layout, [False, True, False], np.random.default_rng(1), 5, prior=0)


def test_candidate_pool_holds_density_draws_when_asked() -> None:
    layout = GenomeLayout((9, 9, 9, 2))
    parents = [np.array([1, 1, 1, 0]), np.array([3, 0, 0, 1])]
    elite = [np.array([8, 8, 8, 1])]
    evaluated = {elite[0].tobytes()}

    def pool_of(n_density: int) -> list[Any]:
        return candidate_pool(
            parents, [1, 0], layout, n_bred=0, n_local=0, n_random=0, n_density=n_density,
            elite=elite, ordered=[True, True, True, False], split=1,
            mutation=ForcedMutation(), rng=np.random.default_rng(0),
            is_evaluated=lambda g: g.tobytes() in evaluated,
        )  # fmt: skip

    assert pool_of(0) == []
    pool = pool_of(400)
    assert pool and all(c.origin == ORIGIN_DENSITY and c.male == c.female == -1 for c in pool)
    genomes = [tuple(c.genome.tolist()) for c in pool]
    assert len(genomes) == len(set(genomes)) and (8, 8, 8, 1) not in genomes
    # Few of 400 draws in 1458 genomes repeat, so the first gene's values come up about as
    # often as drawn: p = 0.34, 0.23 and 0.06 for the elite's value, its grid neighbour and
    # the far end (about 130, 90 and 22 of them, a few standard deviations apart).
    first = np.bincount([g[0] for g in genomes], minlength=9) / len(genomes)
    assert np.allclose(first[[8, 7, 0]], [0.34, 0.23, 0.056], atol=0.06)


def test_explore_count_rounds_per_generation_or_carries_the_share_over_generations() -> None:
    # Rounded per generation: 0.2 of 2 children is never a child, 0.2 of 4 always one.
    assert [explore_count(0.2, 2, g, carried=False) for g in range(1, 6)] == [0, 0, 0, 0, 0]
    assert [explore_count(0.2, 4, g, carried=False) for g in range(1, 6)] == [1, 1, 1, 1, 1]
    # Carried: 0.4 a generation -> floor(0.4 (g + 1)) - floor(0.4 g) for g = 1..5.
    assert [explore_count(0.2, 2, g, carried=True) for g in range(1, 6)] == [0, 1, 0, 1, 0]
    # An exact multiple is not floored one short (0.2 * 5 * 1 = 1.0000000000000002 or 0.999...).
    assert [explore_count(0.2, 5, g, carried=True) for g in range(0, 4)] == [1, 1, 1, 1]
    assert sum(explore_count(0.3, 3, g, carried=True) for g in range(100)) == 90


def test_screen_takes_the_explored_count_it_is_given() -> None:
    acquisition = np.array([0.1, 0.5, 0.3, 0.9])
    one = screen(acquisition, [0, 2], 2, explore=0.0, rng=np.random.default_rng(0), n_explore=1)
    assert one.chosen[0] == 3 and one.chosen[1] in (0, 2) and one.by_model == (True, False)
    none = screen(acquisition, [0, 2], 2, explore=0.5, rng=np.random.default_rng(0), n_explore=0)
    assert none.chosen == (3, 1)
