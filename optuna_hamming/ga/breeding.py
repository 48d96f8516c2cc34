"""Step 5 of Algorithm 1: children from random pairs of parents (layer 1: numpy only).

Each child takes a male and a female drawn uniformly from the parents; a *mutation strategy*
makes the child from them. :class:`ForcedMutation` is the paper's: different genomes give the
male's part A and the female's part B, mutated with probability ``rate``; equal genomes give
the male, always mutated. :class:`PlainMutation` is the ablation without the forced mutation.
Another way of making children (a model that screens them, say) is another strategy with the
same call.

Every random choice goes through the ``numpy.random.Generator`` passed in, in a fixed order,
so that a seed reproduces a generation bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict

import numpy as np

from optuna_hamming.ga._params import checked, probability
from optuna_hamming.ga.genome import ABSENT, GenomeLayout, IntArray

ORIGIN_INITIAL = "initial"
ORIGIN_CROSSOVER = "crossover"
ORIGIN_CROSSOVER_MUTATION = "crossover+mutation"
ORIGIN_FORCED_MUTATION = "forced_mutation"
ORIGIN_RANDOM_UNEVALUATED = "random_unevaluated"


@dataclass(frozen=True)
class Child:
    """A child genome, how it was made, and its parents (indices into the parent list)."""

    genome: IntArray
    origin: str
    male: int
    female: int


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


class MutationStrategy(Protocol):
    """Makes one child (its genome and origin) from a male and a female genome."""

    def __call__(
        self,
        male: IntArray,
        female: IntArray,
        layout: GenomeLayout,
        *,
        split: int,
        rng: np.random.Generator,
    ) -> tuple[IntArray, str]: ...


@dataclass(frozen=True)
class ForcedMutation:
    """The paper's: crossover, then mutation with probability ``rate``; parents with equal
    genomes give the male, always mutated (forced mutation)."""

    rate: float = 0.2
    forced = True  # a class constant, not a field: the ablation is its own class

    def __post_init__(self) -> None:
        checked({"rate": probability(0.2, "rate")}, {"rate": self.rate})

    def __call__(
        self,
        male: IntArray,
        female: IntArray,
        layout: GenomeLayout,
        *,
        split: int,
        rng: np.random.Generator,
    ) -> tuple[IntArray, str]:
        if self.forced and np.array_equal(male, female):
            return mutate(male, layout, rng), ORIGIN_FORCED_MUTATION
        genome = crossover(male, female, split)
        if rng.random() < self.rate:
            return mutate(genome, layout, rng), ORIGIN_CROSSOVER_MUTATION
        return genome, ORIGIN_CROSSOVER


@dataclass(frozen=True)
class PlainMutation(ForcedMutation):
    """Ablation: parents with equal genomes give a crossover child like any other pair (a copy
    of them, mutated only with probability ``rate``)."""

    forced = False


def breed_one(
    parent_genomes: Sequence[IntArray],
    layout: GenomeLayout,
    *,
    split: int,
    mutation: MutationStrategy,
    rng: np.random.Generator,
) -> Child:
    """Step 5 for one child: a random male and female, then the mutation strategy."""
    n = len(parent_genomes)
    if n == 0:
        raise ValueError("breeding needs at least one parent")
    male = int(rng.integers(n))
    female = int(rng.integers(n))
    genome, origin = mutation(
        parent_genomes[male], parent_genomes[female], layout, split=split, rng=rng
    )
    return Child(genome, origin, male, female)


class BreedingOperators(TypedDict):
    """The keyword arguments that every breeding rule below shares."""

    split: int
    mutation: MutationStrategy
    rng: np.random.Generator


def breed(
    parent_genomes: Sequence[IntArray],
    n_children: int,
    layout: GenomeLayout,
    *,
    split: int,
    mutation: MutationStrategy,
    rng: np.random.Generator,
) -> list[Child]:
    """Step 5: ``n_children`` children, drawn one after another from the same stream."""
    return [
        breed_one(parent_genomes, layout, split=split, mutation=mutation, rng=rng)
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
    mutation: MutationStrategy,
    rng: np.random.Generator,
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
        return breed_one(parent_genomes, layout, split=split, mutation=mutation, rng=rng)

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
