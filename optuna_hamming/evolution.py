"""One generation of the paper's Algorithm 1 (layer 1: numpy only).

Every operator is a small function; every random choice goes through the
``numpy.random.Generator`` it is given, in a fixed order, so that a seed reproduces a
generation bit for bit. See SPEC section 3 for the exact steps:

1. grade (best first), 2. Hamming distances H of the graded population and
``Significant = (max H - min H) / 2``, 3. retain the top ``int(retain * size)``,
4. admit each other individual, best first, when ``random() < select`` and its distance to
every parent so far is greater than Significant, 5. breed children from random pairs of
parents (crossover of part A and part B, then mutation with probability ``mutate``; a pair
with equal genomes gives a forced mutation of the male), 6. next population = parents +
children.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from optuna_hamming.genome import ABSENT, GenomeLayout, IntArray, hamming_matrix, upper_distances

ORIGIN_INITIAL = "initial"
ORIGIN_CROSSOVER = "crossover"
ORIGIN_CROSSOVER_MUTATION = "crossover+mutation"
ORIGIN_FORCED_MUTATION = "forced_mutation"
ORIGIN_RANDOM_UNEVALUATED = "random_unevaluated"


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


@dataclass(frozen=True)
class Child:
    """A child genome, how it was made, and its parents (indices into the parent list)."""

    genome: IntArray
    origin: str
    male: int
    female: int


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


def select_parents(
    fitness: Sequence[float],
    genomes: IntArray,
    layout: GenomeLayout,
    *,
    maximize: bool,
    retain: float,
    select: float,
    rng: np.random.Generator,
    max_parents: int | None = None,
    hamming_gate: bool = True,
) -> Selection:
    """Steps 1-4: grade, distances, retention and the Hamming-gated random selection.

    ``max_parents`` caps the parent list (the sampler passes ``population_size - 1`` so each
    generation trains at least one child). A population whose retention keeps nobody and
    whose gate admits nobody gets its best individual as the only parent, since breeding
    needs one. ``hamming_gate=False`` is an ablation: a candidate is admitted with
    probability ``select`` whatever its distances (the random draws are the same).
    """
    size = len(fitness)
    if size == 0:
        raise ValueError("cannot select parents from an empty population")
    order = grade(fitness, maximize=maximize)
    graded = np.asarray(genomes, dtype=np.int64)[order]
    distance = hamming_matrix(graded, layout)
    significant, h_min, h_max = significance(distance)
    cap = size if max_parents is None else max(1, min(max_parents, size))
    n_retain = min(retain_count(size, retain), cap)
    parents = list(range(n_retain))
    selected: list[int] = []
    for x in range(n_retain, size):
        # Draw for every candidate, admitted or not, so the stream does not depend on H.
        lucky = rng.random() < select
        if len(parents) >= cap:
            continue
        if lucky and (not hamming_gate or all(distance[x, s] > significant for s in parents)):
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


def default_split(n_genes: int) -> int:
    """Part A is the first half of the genes (the first two of the paper's four)."""
    return n_genes // 2


def crossover(male: IntArray, female: IntArray, split: int) -> IntArray:
    """Male's part A (genes ``[0, split)``) followed by female's part B (the rest)."""
    if male.shape != female.shape:
        raise ValueError(f"parents have different shapes {male.shape} and {female.shape}")
    if not 0 <= split <= male.shape[0]:
        raise ValueError(f"split {split} outside 0..{male.shape[0]}")
    return np.concatenate([male[:split], female[split:]]).astype(np.int64)


def mutate(genome: IntArray, layout: GenomeLayout, rng: np.random.Generator) -> IntArray:
    """Pick one gene uniformly and give it a uniformly drawn *different* valid value.

    Genes with a single choice cannot change and are never picked; an absent gene gets any
    valid value. A genome with no mutable gene is returned unchanged.
    """
    child = np.array(genome, dtype=np.int64, copy=True)
    mutable = [j for j, n in enumerate(layout.cardinalities) if n >= 2 or child[j] == ABSENT]
    if not mutable:
        return child
    j = mutable[int(rng.integers(len(mutable)))]
    n = layout.cardinalities[j]
    current = int(child[j])
    if current == ABSENT:
        child[j] = int(rng.integers(n))
    else:
        value = int(rng.integers(n - 1))
        child[j] = value + 1 if value >= current else value
    return child


def breed_one(
    parent_genomes: Sequence[IntArray],
    layout: GenomeLayout,
    *,
    split: int,
    mutate_rate: float,
    rng: np.random.Generator,
    forced_mutation: bool = True,
) -> Child:
    """Step 5 for one child: a random male and female, crossover or forced mutation.

    ``forced_mutation=False`` is an ablation: parents with equal genomes give a crossover
    child like any other pair (a copy of them, mutated only with ``mutate_rate``)."""
    n = len(parent_genomes)
    if n == 0:
        raise ValueError("breeding needs at least one parent")
    male = int(rng.integers(n))
    female = int(rng.integers(n))
    male_genome, female_genome = parent_genomes[male], parent_genomes[female]
    if not forced_mutation or not np.array_equal(male_genome, female_genome):
        genome = crossover(male_genome, female_genome, split)
        if rng.random() < mutate_rate:
            return Child(mutate(genome, layout, rng), ORIGIN_CROSSOVER_MUTATION, male, female)
        return Child(genome, ORIGIN_CROSSOVER, male, female)
    return Child(mutate(male_genome, layout, rng), ORIGIN_FORCED_MUTATION, male, female)


class BreedingOperators(TypedDict):
    """The keyword arguments that every breeding rule below shares."""

    split: int
    mutate_rate: float
    rng: np.random.Generator
    forced_mutation: bool


def breed(
    parent_genomes: Sequence[IntArray],
    n_children: int,
    layout: GenomeLayout,
    *,
    split: int,
    mutate_rate: float,
    rng: np.random.Generator,
    forced_mutation: bool = True,
) -> list[Child]:
    """Step 5: ``n_children`` children, drawn one after another from the same stream."""
    return [
        breed_one(
            parent_genomes,
            layout,
            split=split,
            mutate_rate=mutate_rate,
            rng=rng,
            forced_mutation=forced_mutation,
        )
        for _ in range(n_children)
    ]


def random_genome(layout: GenomeLayout, rng: np.random.Generator) -> IntArray:
    """A genome with every gene drawn uniformly from its choices (generation 0)."""
    return np.array([int(rng.integers(n)) for n in layout.cardinalities], dtype=np.int64)


def space_size(layout: GenomeLayout) -> int:
    return math.prod(layout.cardinalities)


def random_unseen_genome(
    layout: GenomeLayout,
    is_seen: Callable[[IntArray], bool],
    rng: np.random.Generator,
    *,
    max_draws: int = 1000,
) -> IntArray | None:
    """A uniformly drawn genome for which ``is_seen`` is false, or None when none is left.

    Rejection sampling first: it is uniform over the unseen genomes and, unless nearly all are
    seen, needs a few draws. Only when ``max_draws`` draws all hit seen genomes is the space
    (its first million genomes, if larger) enumerated, which is also uniform and tells when
    none is left. Small spaces try fewer draws before enumerating, since enumeration is cheap.
    """
    size = space_size(layout)
    for _ in range(max_draws if size > 100_000 else min(max_draws, 64)):
        candidate = random_genome(layout, rng)
        if not is_seen(candidate):
            return candidate
    grid = np.stack(
        np.unravel_index(np.arange(min(size, 1_000_000)), layout.cardinalities), axis=1
    ).astype(np.int64)
    unseen: list[IntArray] = [row for row in grid if not is_seen(row)]
    if not unseen:
        return None
    return unseen[int(rng.integers(len(unseen)))]


def breed_skipping_duplicates(
    parent_genomes: Sequence[IntArray],
    n_children: int,
    layout: GenomeLayout,
    *,
    split: int,
    mutate_rate: float,
    rng: np.random.Generator,
    forced_mutation: bool = True,
    is_evaluated: Callable[[IntArray], bool],
    max_redraws: int,
) -> list[tuple[Child, bool]]:
    """Step 5 with ``skip_duplicates``: ``(child, evaluated)`` pairs.

    A child whose genome was evaluated before joins with ``evaluated=True`` (the caller
    gives it its archived fitness, no training). A child that repeats another new child of
    this generation is drawn again, at most ``max_redraws`` times, then replaced by a random
    genome that is neither evaluated nor planned. If no child is new, the last one is
    replaced in the same way (stall guard), so every generation trains at least one genome
    while the space has one left.
    """
    planned: set[bytes] = set()

    def taken(genome: IntArray) -> bool:
        return genome.tobytes() in planned or is_evaluated(genome)

    def bred() -> Child:
        return breed_one(
            parent_genomes,
            layout,
            split=split,
            mutate_rate=mutate_rate,
            rng=rng,
            forced_mutation=forced_mutation,
        )

    def fresh_child() -> Child | None:
        for _ in range(max_redraws):
            child = bred()
            if not taken(child.genome):
                return child
        genome = random_unseen_genome(layout, taken, rng)
        if genome is None:
            return None
        return Child(genome, ORIGIN_RANDOM_UNEVALUATED, -1, -1)

    result: list[tuple[Child, bool]] = []
    for _ in range(n_children):
        child = bred()
        if is_evaluated(child.genome):
            result.append((child, True))
            continue
        if child.genome.tobytes() in planned:
            replacement = fresh_child()
            if replacement is None:
                continue
            child = replacement
        planned.add(child.genome.tobytes())
        result.append((child, False))
    if result and not any(not evaluated for _, evaluated in result):
        replacement = fresh_child()
        if replacement is not None:
            result[-1] = (replacement, False)
    return result
