"""How a generation close makes the next generation's children: one strategy object.

Shaped like Optuna's ``NSGAIISampler(child_generation_strategy=...)``: the sampler's closing
code builds a :class:`BreedingContext` (the graded parents, the random stream of the close,
the archive rule) and calls the strategy, which returns a :class:`Brood`; it never asks which
strategy it holds. Two strategies ship:

* :class:`PaperGeneration`: Algorithm 1's step 5, crossover of two gene halves and
  (forced) mutation of random parent pairs, ``population_size - parents`` children;
* :class:`ScreenedGeneration`: the accelerated mode, many candidates bred by the same
  operators, a few trained as a model ranks them
  (:class:`optuna_hamming.ga.surrogate.SurrogateScreening`, the numpy half).

The archive rule (``skip_duplicates``) belongs to the sampler, not to a strategy: a strategy
that cannot fill its children falls back to :func:`paper_children`, which honours it.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

from optuna_hamming.ga.breeding import (
    BreedingOperators,
    Child,
    MutationStrategy,
    breed,
    breed_skipping_duplicates,
)
from optuna_hamming.ga.genome import GridGene, IntArray
from optuna_hamming.ga.surrogate import SurrogateScreening, screened_children
from optuna_hamming.sampler.archive import build_archive
from optuna_hamming.sampler.attributes import ScreeningSummary
from optuna_hamming.sampler.search_space import GenomeSpace

# Screened candidates a plan keeps beyond its children, for as many workers at once: with
# more workers than children, each extra one trains the next-best candidate, not a random
# child (the model is fitted once per close; keeping 256 costs a sort and the plan JSON).
RESERVE = 256


@dataclass(frozen=True)
class BreedingContext:
    """What closing generation ``generation - 1`` hands the strategy, all workers alike."""

    space: GenomeSpace
    parent_genomes: Sequence[IntArray]  # graded, best first
    n_free: int  # places the population has beside its parents (Algorithm 1's children)
    split: int  # genes in part A
    mutation: MutationStrategy
    maximize: bool
    rng: np.random.Generator  # the close's stream: every worker draws the same numbers
    generation: int  # the generation the children are for
    skip_duplicates: bool  # the sampler's archive rule: never train a genome twice
    max_redraws: int
    # Every trial of the study (the archive of ``skip_duplicates``).
    all_trials: Callable[[], Sequence[FrozenTrial]]
    # The trials that closed generations fixed (the members of every summary and of the
    # generation being closed): what a model may be fitted on, identical in every worker.
    history: Callable[[], Sequence[FrozenTrial]]


@dataclass(frozen=True)
class Brood:
    """What a strategy decided: children to train and genomes that join from the archive."""

    # In child order, each with what the screening predicted of it (None: bred by rule).
    children: list[tuple[Child, dict[str, Any] | None]]
    # (trial number, fitness) of evaluated genomes joining without training
    # (``skip_duplicates``), in the order they were bred.
    archived: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    # The screening's own summary of the close, for ``ga.generation.<g>["screening"]``.
    report: ScreeningSummary | None = None
    # Next-best screened candidates, best first, for workers beyond the children.
    reserve: list[tuple[Child, dict[str, Any]]] = dataclasses.field(default_factory=list)


class ChildGenerationStrategy(abc.ABC):
    """Makes the children of each generation after the first (Algorithm 1's step 5).

    A strategy must be a pure function of the context (every worker that closes a generation
    computes the same plan), and a frozen dataclass whose fields are its whole configuration:
    the study stores them (:mod:`optuna_hamming.sampler.stored_settings`).
    """

    def initial_size(self, population_size: int) -> int:
        """How many random genomes generation 0 trains."""
        return population_size

    def latin_initial(self) -> bool:
        """Whether generation 0 is a Latin hypercube (:mod:`optuna_hamming.ga.design`)."""
        return False

    @abc.abstractmethod
    def __call__(self, context: BreedingContext) -> Brood:
        """The children of generation ``context.generation``."""

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """Flat, loggable settings (MLflow run parameters)."""


@dataclass(frozen=True)
class PaperGeneration(ChildGenerationStrategy):
    """Algorithm 1 as published: ``population_size - parents`` children of random parent
    pairs, crossover of part A and part B, mutation with the mutation strategy's rate, a
    forced mutation where the two parents are equal."""

    def __call__(self, context: BreedingContext) -> Brood:
        return paper_children(context, context.n_free)

    def params(self) -> dict[str, Any]:
        return {"screening": None}


@dataclass(frozen=True)
class ScreenedGeneration(ChildGenerationStrategy):
    """The accelerated mode: ``screening.children`` children a generation, chosen by a model
    fitted on the genomes closed generations fixed among many bred candidates, after a
    generation 0 of ``screening.initial`` genomes (``HammingGASampler(screening=...)``)."""

    screening: SurrogateScreening

    def initial_size(self, population_size: int) -> int:
        return self.screening.initial

    def latin_initial(self) -> bool:
        return self.screening.initial_design == "latin"

    def __call__(self, context: BreedingContext) -> Brood:
        space = context.space
        layout = space.layout
        # The archive's memo of genome keys: encoding every member again at each close would
        # make the closes quadratic in the study's length.
        archive = build_archive(context.history(), space, maximize=context.maximize)
        known = np.frombuffer(b"".join(archive), dtype=np.int64)
        known = known.reshape(len(archive), layout.n_genes)
        sign = 1.0 if context.maximize else -1.0
        scores = np.array([sign * value for value, _ in archive.values()], dtype=np.float64)
        outcome = screened_children(
            self.screening,
            known,
            scores,
            context.parent_genomes,
            range(len(context.parent_genomes)),
            layout,
            ordered=[isinstance(gene, GridGene) for gene in space.genes],
            split=context.split,
            mutation=context.mutation,
            sign=sign,
            rng=context.rng,
            generation=context.generation,
            reserve=RESERVE,
        )
        if outcome is None:
            return paper_children(context, self.screening.children)
        chosen, report, reserve = outcome  # never empty: a non-empty pool gives a child
        return Brood(
            [(item.child, item.screened) for item in chosen],
            [],
            report,
            [(item.child, item.screened) for item in reserve],
        )

    def params(self) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        flatten_strategy(flat, "screening", self.screening)
        return flat


def paper_children(context: BreedingContext, n_children: int) -> Brood:
    """Algorithm 1's step 5 for ``n_children`` children, with the sampler's archive rule:
    under ``skip_duplicates`` an evaluated genome joins from the archive instead of being
    trained, unless every genome of the space has been evaluated (then the paper's rule)."""
    space = context.space
    operators = BreedingOperators(split=context.split, mutation=context.mutation, rng=context.rng)
    if context.skip_duplicates:
        archive = build_archive(context.all_trials(), space, maximize=context.maximize)
        bred = breed_skipping_duplicates(
            context.parent_genomes,
            n_children,
            space.layout,
            **operators,
            is_evaluated=lambda g: g.tobytes() in archive,
            max_redraws=context.max_redraws,
        )
        if any(not evaluated for _, evaluated in bred):
            children: list[tuple[Child, dict[str, Any] | None]] = []
            archived: list[tuple[int, float]] = []
            for child, evaluated in bred:
                if evaluated:
                    value, number = archive[child.genome.tobytes()]
                    archived.append((number, value))
                else:
                    children.append((child, None))
            return Brood(children, archived)
    plain = breed(context.parent_genomes, n_children, space.layout, **operators)
    return Brood([(child, None) for child in plain])


def history_members(
    summaries: Callable[[], Sequence[Sequence[int]]],
    current: Sequence[int],
    trial_by_number: Callable[[int], FrozenTrial],
) -> list[FrozenTrial]:
    """The trials that closed generations fixed: the members of every summary and of the
    generation being closed, each once, by number."""
    numbers = {int(n) for members in summaries() for n in members} | set(current)
    return [trial_by_number(n) for n in sorted(numbers)]


def flatten_strategy(flat: dict[str, Any], name: str, value: object) -> None:
    """A strategy as its class name under ``name`` and its fields under ``name.field``."""
    if value is None:
        flat[name] = None
        return
    flat[name] = type(value).__name__
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            field_value = getattr(value, item.name)
            if dataclasses.is_dataclass(field_value):
                flatten_strategy(flat, f"{name}.{item.name}", field_value)
            else:
                flat[f"{name}.{item.name}"] = field_value
