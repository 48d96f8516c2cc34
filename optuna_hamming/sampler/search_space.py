"""Optuna search spaces as genome layouts (layer 2).

Maps each Optuna distribution to a gene of :mod:`optuna_hamming.ga.genome`:

* ``CategoricalDistribution``: index into its choices;
* ``IntDistribution`` and stepped ``FloatDistribution``: index into the finite list of values;
* continuous ``FloatDistribution``: a grid of ``2 ** float_bits`` points, log-spaced when the
  distribution is log.

The order of the genes is the order in which the objective first suggested the parameters,
not Optuna's alphabetical order: Optuna's storages keep a trial's parameters in suggestion
order (the RDB storage sorts them by insertion id), and the space is built from that order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
    json_to_distribution,
)
from optuna.trial import FrozenTrial

from optuna_hamming.ga.genome import (
    ABSENT,
    CategoricalGene,
    Gene,
    GenomeLayout,
    GridGene,
    IntArray,
    resolvable_points,
)


def gene_for(distribution: BaseDistribution, float_bits: int) -> Gene:
    """The gene that encodes ``distribution`` (continuous floats on ``2**float_bits`` points)."""
    if isinstance(distribution, CategoricalDistribution):
        return CategoricalGene(tuple(distribution.choices))
    if isinstance(distribution, IntDistribution):
        n = (distribution.high - distribution.low) // distribution.step + 1
        return GridGene(
            low=distribution.low,
            high=distribution.low + (n - 1) * distribution.step,
            n_choices=n,
            integer=True,
        )
    if isinstance(distribution, FloatDistribution):
        if distribution.step is not None:
            n = round((distribution.high - distribution.low) / distribution.step) + 1
            return GridGene(low=distribution.low, high=distribution.high, n_choices=n)
        if distribution.low == distribution.high:
            return GridGene(low=distribution.low, high=distribution.high, n_choices=1)
        # A range only a few ulps wide cannot hold 2**k distinct doubles: the grid coarsens.
        points = resolvable_points(
            distribution.low, distribution.high, 2**float_bits, log=distribution.log
        )
        return GridGene(
            low=distribution.low, high=distribution.high, n_choices=points, log=distribution.log
        )
    raise TypeError(
        f"HammingGASampler cannot encode {type(distribution).__name__}; use Optuna's "
        "CategoricalDistribution, IntDistribution or FloatDistribution"
    )


def contains(distribution: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` (external representation) is a valid value of ``distribution``."""
    try:
        internal = distribution.to_internal_repr(value)
    except (ValueError, TypeError):
        return False
    return bool(distribution._contains(internal))


@dataclass(frozen=True)
class GenomeSpace:
    """An ordered search space: parameter names, their distributions and genes."""

    names: tuple[str, ...]
    distributions: tuple[BaseDistribution, ...]
    float_bits: int

    @cached_property
    def genes(self) -> tuple[Gene, ...]:
        return tuple(gene_for(d, self.float_bits) for d in self.distributions)

    @cached_property
    def layout(self) -> GenomeLayout:
        return GenomeLayout.of(self.genes)

    @classmethod
    def from_trials(cls, trials: Iterable[FrozenTrial], float_bits: int) -> GenomeSpace:
        """The union of the trials' parameters, in order of first suggestion.

        Trials are read in the order given; a parameter's distribution is the one its latest
        trial used (dynamic spaces). Single-valued distributions carry no information and
        are left out.
        """
        order: list[str] = []
        latest: dict[str, BaseDistribution] = {}
        for trial in trials:
            for name, distribution in trial.distributions.items():
                if name not in latest:
                    order.append(name)
                latest[name] = distribution
        names = tuple(n for n in order if not latest[n].single())
        return cls(names, tuple(latest[n] for n in names), float_bits)

    def encode(self, params: Mapping[str, Any]) -> IntArray:
        """The genome of a parameter set; parameters it lacks are ``ABSENT``."""
        genome = np.full(len(self.names), ABSENT, dtype=np.int64)
        for j, (name, gene) in enumerate(zip(self.names, self.genes, strict=True)):
            if name in params:
                genome[j] = gene.index_of(params[name])
        return genome

    def decode(self, genome: Sequence[int] | IntArray) -> dict[str, Any]:
        """The parameter values of a genome; absent genes are left out."""
        values: dict[str, Any] = {}
        for name, gene, index in zip(self.names, self.genes, list(genome), strict=True):
            if int(index) != ABSENT:
                values[name] = gene.value_at(int(index))
        return values

    def bitstring(self, genome: Sequence[int] | IntArray) -> str:
        return self.layout.to_bitstring(genome)

    def to_json(self) -> list[list[str]]:
        return [
            [n, distribution_to_json(d)]
            for n, d in zip(self.names, self.distributions, strict=True)
        ]

    @classmethod
    def from_json(cls, data: Sequence[Sequence[str]], float_bits: int) -> GenomeSpace:
        names = tuple(str(item[0]) for item in data)
        distributions = tuple(json_to_distribution(str(item[1])) for item in data)
        return cls(names, distributions, float_bits)

    def describe(self) -> str:
        """A human-readable line per gene: name, bits and choices."""
        lines = []
        for name, gene, bits in zip(self.names, self.genes, self.layout.bits, strict=True):
            if isinstance(gene, CategoricalGene):
                choices = json.dumps(list(gene.choices), default=str)
            else:
                choices = f"{gene.n_choices} points in [{gene.low}, {gene.high}]"
            lines.append(f"{name}: {bits} bits, {choices}")
        return "\n".join(lines)
