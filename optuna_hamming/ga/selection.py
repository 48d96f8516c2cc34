"""Steps 1-4 of Algorithm 1: grade, Hamming distances, retention and the gated selection.

A *selection strategy* turns a population (fitness and genomes) into a :class:`Selection`:
the graded order, the retained and the admitted individuals, and the Hamming figures of the
generation. :class:`HammingGateSelection` is the paper's; :class:`UngatedSelection` is the
ablation that admits lucky candidates whatever their distances. Both make exactly one random
draw per non-retained candidate, so swapping one for the other leaves the random stream (and
so the children bred after it) aligned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from optuna_hamming.ga._params import checked, probability
from optuna_hamming.ga.genome import GenomeLayout, IntArray, hamming_matrix, upper_distances


@dataclass(frozen=True)
class Selection:
    """What steps 1-4 decided for one graded population (indices into that population)."""

    order: tuple[int, ...]
    retained: tuple[int, ...]
    selected: tuple[int, ...]
    significant: float
    hamming_min: int
    hamming_max: int

    @property
    def parents(self) -> tuple[int, ...]:
        return self.retained + self.selected


class SelectionStrategy(Protocol):
    """Chooses the parents of the next generation (steps 1-4)."""

    def __call__(
        self,
        fitness: Sequence[float],
        genomes: IntArray,
        layout: GenomeLayout,
        *,
        maximize: bool,
        rng: np.random.Generator,
        max_parents: int | None = None,
    ) -> Selection: ...


def grade(fitness: Sequence[float], *, maximize: bool) -> IntArray:
    """Indices of ``fitness`` from best to worst; ties keep their input order."""
    values = np.asarray(fitness, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("fitness contains NaN: drop failed individuals before grading")
    keys = -values if maximize else values
    return np.argsort(keys, kind="stable").astype(np.int64)


def retain_count(size: int, retain: float) -> int:
    """The paper's ``int(RETAIN * size)`` (truncation, as in Algorithm 1)."""
    return int(retain * size)


def significance(distance: IntArray) -> tuple[float, int, int]:
    """``(Significant, min H, max H)`` over the pairs u < v; zeros for fewer than 2 individuals."""
    pairs = upper_distances(distance)
    if pairs.size == 0:
        return 0.0, 0, 0
    low, high = int(pairs.min()), int(pairs.max())
    return (high - low) / 2.0, low, high


@dataclass(frozen=True)
class HammingGateSelection:
    """The paper's selection: retain the top ``int(retain * size)``, then admit each other
    individual, best first, when ``random() < select`` and its distance to every parent so far
    is greater than Significant = (max H - min H) / 2.

    ``max_parents`` caps the parent list (the sampler passes ``population_size - 1`` so each
    generation trains at least one child). A population whose retention keeps nobody and
    whose gate admits nobody gets its best individual as the only parent, since breeding
    needs one.
    """

    retain: float = 0.4
    select: float = 0.5

    def __post_init__(self) -> None:
        checked(
            {"retain": probability(0.4, "retain"), "select": probability(0.5, "select")},
            {"retain": self.retain, "select": self.select},
        )

    def admits(self, distances_to_parents: IntArray, significant: float) -> bool:
        """The gate: a lucky candidate joins only if it is far from every parent."""
        return bool(np.all(distances_to_parents > significant))

    def __call__(
        self,
        fitness: Sequence[float],
        genomes: IntArray,
        layout: GenomeLayout,
        *,
        maximize: bool,
        rng: np.random.Generator,
        max_parents: int | None = None,
    ) -> Selection:
        size = len(fitness)
        if size == 0:
            raise ValueError("cannot select parents from an empty population")
        order = grade(fitness, maximize=maximize)
        graded = np.asarray(genomes, dtype=np.int64)[order]
        distance = hamming_matrix(graded, layout)
        significant, h_min, h_max = significance(distance)
        cap = size if max_parents is None else max(1, min(max_parents, size))
        n_retain = min(retain_count(size, self.retain), cap)
        parents = list(range(n_retain))
        selected: list[int] = []
        for x in range(n_retain, size):
            # Draw for every candidate, admitted or not, so the stream does not depend on H.
            lucky = rng.random() < self.select
            if len(parents) >= cap:
                continue
            if lucky and self.admits(distance[x, parents], significant):
                parents.append(x)
                selected.append(x)
        if not parents:
            parents.append(0)
            selected.append(0)
        as_population = [int(i) for i in order]
        return Selection(
            order=tuple(as_population),
            retained=tuple(as_population[i] for i in range(n_retain)),
            selected=tuple(as_population[i] for i in selected),
            significant=significant,
            hamming_min=h_min,
            hamming_max=h_max,
        )


@dataclass(frozen=True)
class UngatedSelection(HammingGateSelection):
    """Ablation: a candidate is admitted with probability ``select`` whatever its distances
    (the same random draws as the paper's selection)."""

    def admits(self, distances_to_parents: IntArray, significant: float) -> bool:
        return True
