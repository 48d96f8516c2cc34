"""Algorithm 1 step by step on small hand-checked populations, plus operator properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optuna_hamming import ga
from optuna_hamming.ga.breeding import (
    breed_skipping_duplicates,
    default_split,
    random_unseen_genome,
)
from optuna_hamming.ga.genome import ABSENT, GenomeLayout, hamming_matrix

PAPER = GenomeLayout((7, 4, 4, 7))

# Five individuals of the paper's space, given out of fitness order on purpose.
#   A 0000000000 (0.9)  B 0000000001 (0.8)  C 1101111110 (0.7)  D 0000000010 (0.6)
#   E 1011001011 (0.5)
# Pairwise distances: AB 1, AC 8, AD 1, AE 6, BC 9, BD 2, BE 5, CD 7, CE 6, DE 5,
# so min H = 1, max H = 9 and Significant = (9 - 1) / 2 = 4.
GENOMES = {
    "A": [0, 0, 0, 0],
    "B": [0, 0, 0, 1],
    "C": [6, 3, 3, 6],
    "D": [0, 0, 0, 2],
    "E": [5, 2, 1, 3],
}
FITNESS = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.6, "E": 0.5}
ORDER_GIVEN = ["D", "A", "E", "C", "B"]


def population() -> tuple[list[float], np.ndarray]:
    return (
        [FITNESS[k] for k in ORDER_GIVEN],
        np.array([GENOMES[k] for k in ORDER_GIVEN], dtype=np.int64),
    )


def names(indices: tuple[int, ...]) -> list[str]:
    return [ORDER_GIVEN[i] for i in indices]


def test_distances_of_the_hand_checked_population() -> None:
    genomes = np.array([GENOMES[k] for k in "ABCDE"])
    d = hamming_matrix(genomes, PAPER)
    assert [
        d[0, 1],
        d[0, 2],
        d[0, 3],
        d[0, 4],
        d[1, 2],
        d[1, 3],
        d[1, 4],
        d[2, 3],
        d[2, 4],
        d[3, 4],
    ] == [1, 8, 1, 6, 9, 2, 5, 7, 6, 5]


def test_grade_best_first_for_both_directions() -> None:
    fitness, _ = population()
    assert names(tuple(ga.grade(fitness, maximize=True))) == list("ABCDE")
    assert names(tuple(ga.grade(fitness, maximize=False))) == list("EDCBA")
    assert ga.grade([1.0, 2.0, 1.0], maximize=True).tolist() == [1, 0, 2]


@pytest.mark.parametrize(("size", "kept"), [(30, 12), (25, 10), (5, 2), (7, 2), (2, 0)])
def test_retention_truncates_like_the_paper(size: int, kept: int) -> None:
    assert ga.retain_count(size, 0.4) == kept


def test_gate_admits_only_individuals_far_from_every_parent() -> None:
    fitness, genomes = population()
    sel = ga.HammingGateSelection(retain=0.4, select=1.0)(
        fitness,
        genomes,
        PAPER,
        maximize=True,
        rng=np.random.default_rng(0),
    )
    assert sel.significant == 4.0 and (sel.hamming_min, sel.hamming_max) == (1, 9)
    assert names(sel.retained) == ["A", "B"]
    # C is 8 and 9 bits from A and B: admitted. D is 1 bit from A: refused.
    # E is 6, 5 and 6 bits from A, B and the newly admitted C: admitted.
    assert names(sel.selected) == ["C", "E"]
    assert names(sel.parents) == ["A", "B", "C", "E"]


def test_without_the_gate_every_lucky_candidate_is_admitted() -> None:
    # The ablation: with select=1 D (1 bit from A, refused by the gate) is admitted too.
    fitness, genomes = population()
    sel = ga.UngatedSelection(retain=0.4, select=1.0)(
        fitness,
        genomes,
        PAPER,
        maximize=True,
        rng=np.random.default_rng(0),
    )
    assert names(sel.selected) == ["C", "D", "E"]


def test_gate_refuses_everyone_when_select_is_zero() -> None:
    fitness, genomes = population()
    sel = ga.HammingGateSelection(retain=0.4, select=0.0)(
        fitness,
        genomes,
        PAPER,
        maximize=True,
        rng=np.random.default_rng(0),
    )
    assert names(sel.parents) == ["A", "B"]


@pytest.mark.parametrize("seed", range(8))
def test_gate_uses_one_random_draw_per_candidate(seed: int) -> None:
    fitness, genomes = population()
    sel = ga.HammingGateSelection(retain=0.4, select=0.5)(
        fitness,
        genomes,
        PAPER,
        maximize=True,
        rng=np.random.default_rng(seed),
    )
    draws = np.random.default_rng(seed).random(3)  # candidates C, D, E in graded order
    expected = ["A", "B"]
    if draws[0] < 0.5:
        expected.append("C")
    # D is always refused (1 bit from A); E is far from A, B and C alike.
    if draws[2] < 0.5:
        expected.append("E")
    assert names(sel.parents) == expected


def test_minimize_grades_the_other_way() -> None:
    fitness, genomes = population()
    sel = ga.HammingGateSelection(retain=0.4, select=0.0)(
        fitness,
        genomes,
        PAPER,
        maximize=False,
        rng=np.random.default_rng(0),
    )
    assert names(sel.retained) == ["E", "D"]


def test_parent_cap_leaves_room_for_a_child() -> None:
    fitness, genomes = population()
    sel = ga.HammingGateSelection(retain=1.0, select=1.0)(
        fitness,
        genomes,
        PAPER,
        maximize=True,
        rng=np.random.default_rng(0),
        max_parents=4,
    )
    assert len(sel.parents) == 4


def test_empty_retention_and_gate_keeps_the_best() -> None:
    sel = ga.HammingGateSelection(retain=0.4, select=0.0)(
        [0.1, 0.3],
        np.array([[0, 0, 0, 0], [1, 0, 0, 0]]),
        PAPER,
        maximize=True,
        rng=np.random.default_rng(0),
    )
    assert sel.parents == (1,)


def test_crossover_takes_part_a_from_male_and_part_b_from_female() -> None:
    male = np.array([1, 2, 3, 4])
    female = np.array([5, 3, 2, 6])
    assert ga.crossover(male, female, 2).tolist() == [1, 2, 2, 6]
    assert ga.crossover(male, female, 0).tolist() == female.tolist()
    assert default_split(4) == 2


def test_breed_follows_the_random_stream_exactly() -> None:
    parents = [np.array(GENOMES[k]) for k in "ABCE"]
    children = ga.breed(
        parents, 6, PAPER, split=2, mutation=ga.ForcedMutation(0.0), rng=np.random.default_rng(3)
    )
    replay = np.random.default_rng(3)
    for child in children:
        male, female = int(replay.integers(4)), int(replay.integers(4))
        assert (child.male, child.female) == (male, female)
        if male != female:
            replay.random()  # the mutation draw, never below 0.0
            assert child.origin == "crossover"
            expected = parents[male][:2].tolist() + parents[female][2:].tolist()
            assert child.genome.tolist() == expected
        else:
            assert child.origin == "forced_mutation"
            assert int((child.genome != parents[male]).sum()) == 1
            gene = int(np.flatnonzero(child.genome != parents[male])[0])
            replay.integers(4)  # which gene
            replay.integers(PAPER.cardinalities[gene] - 1)  # its new value


def test_equal_genomes_always_force_a_mutation() -> None:
    same = [np.array([5, 1, 3, 5]), np.array([5, 1, 3, 5])]
    children = ga.breed(
        same, 50, PAPER, split=2, mutation=ga.ForcedMutation(0.0), rng=np.random.default_rng(1)
    )
    for child in children:
        assert child.origin == "forced_mutation"
        assert int((child.genome != same[0]).sum()) == 1


def test_without_forced_mutation_equal_parents_give_copies() -> None:
    same = [np.array([5, 1, 3, 5]), np.array([5, 1, 3, 5])]
    children = ga.breed(
        same,
        50,
        PAPER,
        split=2,
        mutation=ga.PlainMutation(0.0),
        rng=np.random.default_rng(1),
    )
    for child in children:
        assert child.origin == "crossover"
        np.testing.assert_array_equal(child.genome, same[0])


def test_mutation_rate_one_mutates_every_crossover_child() -> None:
    parents = [np.array(GENOMES[k]) for k in "AC"]
    children = ga.breed(
        parents, 40, PAPER, split=2, mutation=ga.ForcedMutation(1.0), rng=np.random.default_rng(2)
    )
    assert {c.origin for c in children} <= {"crossover+mutation", "forced_mutation"}


@st.composite
def layout_and_genome(draw: st.DrawFn) -> tuple[GenomeLayout, np.ndarray]:
    cards = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
    genome = [draw(st.integers(ABSENT, n - 1)) for n in cards]
    return GenomeLayout(tuple(cards)), np.array(genome, dtype=np.int64)


@given(layout_and_genome(), st.integers(0, 2**32))
def test_mutation_is_never_a_no_op(case: tuple[GenomeLayout, np.ndarray], seed: int) -> None:
    layout, genome = case
    mutated = ga.mutate(genome, layout, np.random.default_rng(seed))
    mutable = any(n >= 2 or g == ABSENT for n, g in zip(layout.cardinalities, genome, strict=True))
    changed = np.flatnonzero(mutated != genome)
    if mutable:
        assert len(changed) == 1
        j = int(changed[0])
        assert 0 <= mutated[j] < layout.cardinalities[j]
    else:
        assert len(changed) == 0


def test_mutation_draws_genes_and_values_uniformly() -> None:
    rng = np.random.default_rng(0)
    genome = np.array([3, 1, 2, 0])
    gene_counts = np.zeros(4)
    value_counts = np.zeros(7)
    for _ in range(7000):
        mutated = ga.mutate(genome, PAPER, rng)
        j = int(np.flatnonzero(mutated != genome)[0])
        gene_counts[j] += 1
        if j == 0:
            value_counts[mutated[0]] += 1
    assert np.all(np.abs(gene_counts / 7000 - 0.25) < 0.03)
    assert value_counts[3] == 0
    others = np.delete(value_counts, 3) / value_counts.sum()
    assert np.all(np.abs(others - 1 / 6) < 0.04)


def test_skipping_duplicates_trains_only_new_genomes() -> None:
    layout = GenomeLayout((2, 2))
    evaluated = {np.array(g).tobytes() for g in ([0, 0], [0, 1], [1, 0])}
    parents = [np.array([0, 0]), np.array([0, 1]), np.array([1, 0])]
    result = breed_skipping_duplicates(
        parents,
        5,
        layout,
        split=1,
        mutation=ga.ForcedMutation(0.2),
        rng=np.random.default_rng(0),
        is_evaluated=lambda g: g.tobytes() in evaluated,
        max_redraws=3,
    )
    new = [c for c, was_evaluated in result if not was_evaluated]
    assert [c.genome.tolist() for c in new] == [[1, 1]]
    assert all(c.genome.tobytes() in evaluated for c, e in result if e)


def test_skipping_duplicates_with_an_exhausted_space_trains_nothing() -> None:
    layout = GenomeLayout((2,))
    result = breed_skipping_duplicates(
        [np.array([0]), np.array([1])],
        3,
        layout,
        split=0,
        mutation=ga.ForcedMutation(0.0),
        rng=np.random.default_rng(0),
        is_evaluated=lambda g: True,
        max_redraws=2,
    )
    assert all(evaluated for _, evaluated in result)


def test_random_unseen_genome_finds_the_last_one() -> None:
    layout = GenomeLayout((3, 3))
    last = np.array([2, 1])
    found = random_unseen_genome(
        layout, lambda g: not np.array_equal(g, last), np.random.default_rng(0)
    )
    assert found is not None and found.tolist() == [2, 1]


@given(
    cardinalities=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    seen_share=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_random_unseen_genome_is_unseen_and_none_only_when_all_are_seen(
    cardinalities: list[int], seen_share: float, seed: int
) -> None:
    layout = GenomeLayout(tuple(cardinalities))
    everything = [np.array(g) for g in np.ndindex(*cardinalities)]
    rng = np.random.default_rng(seed)
    seen = {g.tobytes() for g in everything if rng.random() < seen_share}
    found = random_unseen_genome(layout, lambda g: g.tobytes() in seen, rng)
    if len(seen) == len(everything):
        assert found is None
    else:
        assert found is not None and found.tobytes() not in seen
        assert all(0 <= v < c for v, c in zip(found, cardinalities, strict=True))


def test_random_unseen_genome_is_uniform_over_the_unseen() -> None:
    layout = GenomeLayout((4, 4))
    seen = {np.array(g).tobytes() for g in np.ndindex(4, 4) if sum(g) % 2 == 0}
    rng = np.random.default_rng(0)
    draws = [random_unseen_genome(layout, lambda g: g.tobytes() in seen, rng) for _ in range(4000)]
    counts = np.unique([d.tobytes() for d in draws if d is not None], return_counts=True)[1]
    # 8 unseen genomes, 500 expected each: a chi-square with 7 degrees of freedom under 24.3
    # fails a uniform sampler once in a thousand runs; this seed is fixed, so never.
    assert len(counts) == 8
    assert float(((counts - 500) ** 2 / 500).sum()) < 24.3
