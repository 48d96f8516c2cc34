"""Generation plans: who is carried into a generation and which children it trains.

Plan 0 is implicit: ``population_size`` random individuals. Plan ``g + 1`` is a pure function
of the members of generation ``g`` and the study seed, so every worker that computes it gets
the same plan; it is stored as a study system attribute (``attributes.plan_key``) so that the
others read it instead, and so that a reopened study continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optuna_hamming.sampler.search_space import GenomeSpace


@dataclass(frozen=True)
class PlannedChild:
    genome: tuple[int, ...]
    origin: str
    parents: tuple[int, ...]
    # What the screening predicted when its model chose the child (None: the paper's rule).
    screened: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """Generation ``generation``: carried members ``(trial number, fitness)`` and children."""

    generation: int
    space: GenomeSpace | None
    carried: tuple[tuple[int, float], ...]
    children: tuple[PlannedChild, ...]
    population_size: int
    seed_used: int = field(default=0)
    n_parents: int = field(default=0)  # carried[:n_parents] are parents, the rest archived
    # The accelerated mode's next-best screened candidates, best first: what workers beyond
    # the planned children train (they never join the generation unless a child fails).
    reserve: tuple[PlannedChild, ...] = field(default=())

    @property
    def needed(self) -> int:
        """How many children must finish (COMPLETE or PRUNED) before the generation closes."""
        return self.population_size if self.generation == 0 else len(self.children)

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "space": None if self.space is None else self.space.to_json(),
            "carried": [list(c) for c in self.carried],
            "children": [_child_json(c) for c in self.children],
            "population_size": self.population_size,
            "seed": self.seed_used,
            "n_parents": self.n_parents,
            **({"reserve": [_child_json(c) for c in self.reserve]} if self.reserve else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], float_bits: int) -> Plan:
        space = None if data["space"] is None else GenomeSpace.from_json(data["space"], float_bits)
        return cls(
            generation=int(data["generation"]),
            space=space,
            carried=tuple((int(n), float(v)) for n, v in data["carried"]),
            children=tuple(_child_from_json(child) for child in data["children"]),
            population_size=int(data["population_size"]),
            seed_used=int(data.get("seed", 0)),
            n_parents=int(data.get("n_parents", len(data["carried"]))),
            reserve=tuple(_child_from_json(child) for child in data.get("reserve", ())),
        )


def _child_json(child: PlannedChild) -> list[Any]:
    screened = [child.screened] if child.screened is not None else []
    return [list(child.genome), child.origin, list(child.parents), *screened]


def _child_from_json(child: Sequence[Any]) -> PlannedChild:
    return PlannedChild(
        tuple(int(x) for x in child[0]),
        str(child[1]),
        tuple(int(p) for p in child[2]),
        dict(child[3]) if len(child) > 3 else None,
    )


def initial_plan(population_size: int) -> Plan:
    return Plan(0, None, (), (), population_size)


def generation_rng(seed: int, generation: int, *extra: int) -> np.random.Generator:
    """The random stream of one generation's plan (or of one extra child)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, generation, *extra])))
