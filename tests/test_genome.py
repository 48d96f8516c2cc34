"""Genes, bit strings and Hamming distances: hand-checked values and hypothesis properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from optuna_hamming.ga.genome import (
    ABSENT,
    CategoricalGene,
    GenomeLayout,
    GridGene,
    bits_for,
    hamming_matrix,
    resolvable_points,
    upper_distances,
)

PAPER = GenomeLayout((7, 4, 4, 7))


def test_paper_layout_has_ten_bits_in_table_one_widths() -> None:
    assert PAPER.bits == (3, 2, 2, 3)
    assert PAPER.total_bits == 10


def test_bitstring_is_plain_binary_most_significant_first() -> None:
    # 768 neurons (index 5), 2 layers (1), sigmoid (3), adamax (5): the paper's winner.
    assert PAPER.to_bitstring([5, 1, 3, 5]) == "1010111101"
    assert PAPER.to_bitstring([0, 0, 0, 0]) == "0000000000"
    assert PAPER.to_bitstring([ABSENT, 3, 0, 6]) == "---1100110"


def test_codes_without_a_choice_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.6"):
        PAPER.to_bitstring([7, 0, 0, 0])
    with pytest.raises(ValueError, match=r"outside 0\.\.6"):
        PAPER.from_bitstring("1110000000")
    with pytest.raises(ValueError, match="use only 0, 1"):
        PAPER.from_bitstring("0-00000000")


@pytest.mark.parametrize(("n", "bits"), [(1, 0), (2, 1), (3, 2), (4, 2), (7, 3), (8, 3), (9, 4)])
def test_bits_for(n: int, bits: int) -> None:
    assert bits_for(n) == bits


def test_hamming_matrix_hand_checked() -> None:
    genomes = np.array([[0, 0, 0, 0], [6, 3, 3, 6], [5, 1, 3, 5], [5, 1, 3, 5]])
    distance = hamming_matrix(genomes, PAPER)
    # 0000000000 vs 1101111110: 8 bits differ; vs 1010111101: 7; 1101111110 vs 1010111101: 5.
    assert distance.tolist() == [[0, 8, 7, 7], [8, 0, 5, 5], [7, 5, 0, 0], [7, 5, 0, 0]]
    assert upper_distances(distance).tolist() == [8, 7, 7, 5, 5, 0]


def test_absent_gene_differs_in_all_its_bits() -> None:
    genomes = np.array([[ABSENT, 0, 0, 0], [0, 0, 0, 0], [ABSENT, 0, 0, 0]])
    assert hamming_matrix(genomes, PAPER).tolist() == [[0, 3, 0], [3, 0, 3], [0, 3, 0]]


layouts = st.lists(st.integers(1, 40), min_size=1, max_size=8).map(
    lambda cards: GenomeLayout(tuple(cards))
)


@st.composite
def layout_and_genomes(draw: st.DrawFn, min_rows: int = 1) -> tuple[GenomeLayout, np.ndarray]:
    layout = draw(layouts)
    rows = draw(st.integers(min_rows, 8))
    columns = [
        draw(hnp.arrays(np.int64, rows, elements=st.integers(ABSENT, n - 1)))
        for n in layout.cardinalities
    ]
    return layout, np.stack(columns, axis=1)


@given(layout_and_genomes())
def test_bitstring_round_trip(case: tuple[GenomeLayout, np.ndarray]) -> None:
    layout, genomes = case
    for genome in genomes:
        text = layout.to_bitstring(genome)
        assert len(text) == layout.total_bits
        expected = np.where(
            np.array([n for n in layout.cardinalities]) == 1,
            np.where(genome == ABSENT, ABSENT, 0),
            genome,
        )
        decoded = layout.from_bitstring(text)
        # Single-choice genes have no bits: they decode as choice 0.
        present = np.array([b > 0 for b in layout.bits])
        assert decoded[present].tolist() == expected[present].tolist()


@given(layout_and_genomes(min_rows=2))
def test_hamming_matches_counting_differing_characters(
    case: tuple[GenomeLayout, np.ndarray],
) -> None:
    layout, genomes = case
    distance = hamming_matrix(genomes, layout)
    texts = [layout.to_bitstring(g) for g in genomes]
    for u, a in enumerate(texts):
        for v, b in enumerate(texts):
            # '-' against '-' counts as equal, '-' against a bit as different.
            assert distance[u, v] == sum(x != y for x, y in zip(a, b, strict=True))
    assert (distance == distance.T).all()
    assert (np.diag(distance) == 0).all()


@given(layout_and_genomes(min_rows=3))
def test_hamming_triangle_inequality(case: tuple[GenomeLayout, np.ndarray]) -> None:
    layout, genomes = case
    d = hamming_matrix(genomes, layout)
    for a in range(len(d)):
        for b in range(len(d)):
            for c in range(len(d)):
                assert d[a, c] <= d[a, b] + d[b, c]


@given(st.floats(-1e6, 1e6), st.floats(0, 1e6), st.integers(1, 300), st.booleans())
def test_grid_gene_index_round_trip(low: float, span: float, n: int, log: bool) -> None:
    if log:
        low = abs(low) + 1e-3
    n = resolvable_points(low, low + span, n, log=log) if low + span > low else 1
    gene = GridGene(low=low, high=low + span, n_choices=n, log=log)
    for index in {0, 1, n // 2, n - 2, n - 1} & set(range(n)):
        value = gene.value_at(index)
        assert low <= value <= low + span
        assert gene.index_of(value) == index


@given(st.integers(-1000, 1000), st.integers(0, 500), st.integers(1, 7))
def test_integer_grid_is_the_list_of_values(low: int, count: int, step: int) -> None:
    gene = GridGene(low=low, high=low + count * step, n_choices=count + 1, integer=True)
    values = [gene.value_at(i) for i in range(count + 1)]
    assert values == list(range(low, low + count * step + 1, step))
    assert [gene.index_of(v) for v in values] == list(range(count + 1))


def test_categorical_gene_prefers_same_type() -> None:
    gene = CategoricalGene((1, True, "a", None))
    assert gene.index_of(True) == 1
    assert gene.index_of(1) == 0
    assert gene.index_of(None) == 3
    assert gene.index_of("missing") == ABSENT
