"""Genes, genomes and Hamming distances (layer 1: numpy only, no Optuna, no Keras).

A *genome* is a 1-D integer array holding one choice index per gene, in the order the
objective first suggests the parameters (paper, Table I). Each gene with ``n`` choices is
written as ``ceil(log2 n)`` bits in plain binary, most significant bit first, and the bit
strings of all genes are concatenated. Genetic operators work on choice indices, so codes
without a choice (``111`` for a 7-choice gene) never occur.

``ABSENT`` (-1) marks a gene that an individual does not have, which happens in conditional
search spaces. It is written as ``-`` characters and differs from every present value in all
of the gene's bits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

ABSENT = -1

IntArray = npt.NDArray[np.int64]


def bits_for(n_choices: int) -> int:
    """Number of bits that hold a choice index among ``n_choices`` choices."""
    if n_choices < 1:
        raise ValueError(f"a gene needs at least one choice, got n_choices={n_choices}")
    return (n_choices - 1).bit_length()


@dataclass(frozen=True)
class CategoricalGene:
    """A gene whose choices are listed explicitly (categorical parameters)."""

    choices: tuple[Any, ...]

    @property
    def n_choices(self) -> int:
        return len(self.choices)

    def value_at(self, index: int) -> Any:
        return self.choices[index]

    def index_of(self, value: Any) -> int:
        """Index of ``value`` among the choices, or ``ABSENT`` when it is not one of them."""
        for i, choice in enumerate(self.choices):
            if choice == value and type(choice) is type(value):
                return i
        for i, choice in enumerate(self.choices):
            if choice == value:
                return i
        return ABSENT


@dataclass(frozen=True)
class GridGene:
    """A numeric gene on an evenly spaced grid (integers, stepped floats, float grids).

    ``n_choices`` points run from ``low`` to ``high``; with ``log=True`` they are evenly spaced
    in log space. Integer genes round their values to ints.
    """

    low: float
    high: float
    n_choices: int
    log: bool = False
    integer: bool = False
    _points: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.n_choices < 1:
            raise ValueError(f"a grid gene needs n_choices >= 1, got {self.n_choices}")
        if self.high < self.low:
            raise ValueError(f"grid gene has high={self.high} below low={self.low}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log grid needs low > 0, got low={self.low}")

    def value_at(self, index: int) -> float | int:
        if not 0 <= index < self.n_choices:
            raise IndexError(f"index {index} outside 0..{self.n_choices - 1}")
        if index == 0:
            value = self.low  # exact end points, no exp(log(x)) rounding drift
        elif index == self.n_choices - 1:
            value = self.high
        elif self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            value = math.exp(lo + (hi - lo) * index / (self.n_choices - 1))
        else:
            value = self.low + (self.high - self.low) * index / (self.n_choices - 1)
        if self.integer:
            return round(value)
        return float(min(max(value, self.low), self.high))

    def index_of(self, value: Any) -> int:
        """Index of the grid point nearest to ``value`` (clipped into the range)."""
        try:
            x = float(value)
        except (TypeError, ValueError):
            return ABSENT
        if math.isnan(x):
            return ABSENT
        if self.n_choices == 1:
            return 0
        # The end points first: in a range a few ulps wide the log or linear position
        # below can collapse to 0 for both of them.
        if x <= self.low:
            return 0
        if x >= self.high:
            return self.n_choices - 1
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            position = (math.log(x) - lo) / (hi - lo) if hi > lo else 0.0
        else:
            span = self.high - self.low
            position = (x - self.low) / span if span > 0 else 0.0
        return min(max(round(position * (self.n_choices - 1)), 0), self.n_choices - 1)


# Neighbouring grid points closer than this (relative to their size, or in ulps, which is
# what matters for subnormals) risk rounding onto each other.
_MIN_RELATIVE_SPACING = 1e-9
_MIN_ULPS = 64


def resolvable_points(low: float, high: float, max_points: int, *, log: bool = False) -> int:
    """The largest power-of-two fraction of ``max_points`` whose grid on [low, high] is exact.

    Halves ``max_points`` (down to 2) until neighbouring points are far enough apart in
    floating point that every point decodes and encodes back to its own index.
    """
    points = max_points
    while points > 2 and not _grid_is_resolvable(low, high, points, log=log):
        points //= 2
    return points


def _grid_is_resolvable(low: float, high: float, points: int, *, log: bool) -> bool:
    if log:
        step = (math.log(high) - math.log(low)) / (points - 1)
        smallest_gap = low * math.expm1(step)  # log grids are densest at the low end
        return step >= _MIN_RELATIVE_SPACING and smallest_gap >= _MIN_ULPS * math.ulp(low)
    scale = max(abs(low), abs(high))
    gap = (high - low) / (points - 1)
    return gap >= _MIN_RELATIVE_SPACING * scale and gap >= _MIN_ULPS * math.ulp(scale)


Gene = CategoricalGene | GridGene


@dataclass(frozen=True)
class GenomeLayout:
    """The cardinality of every gene, in genome order, and what follows from it."""

    cardinalities: tuple[int, ...]

    def __post_init__(self) -> None:
        for n in self.cardinalities:
            bits_for(n)

    @classmethod
    def of(cls, genes: Sequence[Gene]) -> GenomeLayout:
        return cls(tuple(gene.n_choices for gene in genes))

    @property
    def n_genes(self) -> int:
        return len(self.cardinalities)

    @cached_property
    def bits(self) -> tuple[int, ...]:
        return tuple(bits_for(n) for n in self.cardinalities)

    @property
    def total_bits(self) -> int:
        return sum(self.bits)

    def check(self, genome: Sequence[int] | IntArray) -> IntArray:
        """Return ``genome`` as an int64 array after checking every index is a valid choice."""
        array = np.asarray(genome, dtype=np.int64)
        if array.shape != (self.n_genes,):
            raise ValueError(f"genome has shape {array.shape}, expected ({self.n_genes},)")
        cards = np.asarray(self.cardinalities, dtype=np.int64)
        bad = (array < ABSENT) | (array >= cards)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"gene {j} holds index {array[j]}, outside 0..{cards[j] - 1} "
                f"(or {ABSENT} for absent)"
            )
        return array

    def to_bitstring(self, genome: Sequence[int] | IntArray) -> str:
        """Plain binary, most significant bit first; an absent gene is written as ``-``."""
        array = self.check(genome)
        parts = []
        for index, width in zip(array.tolist(), self.bits, strict=True):
            if width == 0:
                continue
            parts.append("-" * width if index == ABSENT else format(index, f"0{width}b"))
        return "".join(parts)

    def from_bitstring(self, text: str) -> IntArray:
        """Inverse of :meth:`to_bitstring`; raises ValueError for codes with no choice."""
        if len(text) != self.total_bits:
            raise ValueError(f"bit string has {len(text)} bits, the layout has {self.total_bits}")
        genome = np.zeros(self.n_genes, dtype=np.int64)
        position = 0
        for j, width in enumerate(self.bits):
            chunk = text[position : position + width]
            position += width
            if width == 0:
                continue
            if chunk == "-" * width:
                genome[j] = ABSENT
                continue
            if set(chunk) - {"0", "1"}:
                raise ValueError(f"gene {j} is written {chunk!r}: use only 0, 1, or all '-'")
            genome[j] = int(chunk, 2)
        return self.check(genome)


def hamming_matrix(genomes: IntArray, layout: GenomeLayout) -> IntArray:
    """Pairwise Hamming distances (number of differing bits) of the rows of ``genomes``.

    Vectorised over pairs; the loop runs over genes only. An absent gene differs from a
    present one in all of its bits and equals another absent gene.
    """
    population = np.asarray(genomes, dtype=np.int64)
    if population.ndim != 2 or population.shape[1] != layout.n_genes:
        raise ValueError(f"genomes must have shape (m, {layout.n_genes}), got {population.shape}")
    m = population.shape[0]
    distance = np.zeros((m, m), dtype=np.int64)
    for j, width in enumerate(layout.bits):
        if width == 0:
            continue
        column = population[:, j]
        absent = column == ABSENT
        code = np.where(absent, 0, column)
        differing = np.bitwise_count(code[:, None] ^ code[None, :]).astype(np.int64)
        one_absent = absent[:, None] ^ absent[None, :]
        both_absent = absent[:, None] & absent[None, :]
        differing = np.where(one_absent, width, np.where(both_absent, 0, differing))
        distance += differing
    return distance


def upper_distances(distance: IntArray) -> IntArray:
    """The distances of the pairs u < v (the paper's H), as a flat array."""
    m = distance.shape[0]
    rows, cols = np.triu_indices(m, k=1)
    return np.asarray(distance[rows, cols], dtype=np.int64)
