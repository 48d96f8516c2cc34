"""A trial's claim on a child of the open generation, and what it tells the trial.

Each trial holds ``hamming_ga:child = [generation, index]``; the functions here decide which
index a new trial takes and describe the child behind it: the values ``sample_independent``
serves and the ``ga.*`` user attributes people see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.trial import FrozenTrial

from optuna_hamming.ga.breeding import ORIGIN_INITIAL
from optuna_hamming.sampler._plan import Plan, PlannedChild
from optuna_hamming.sampler.attributes import (
    CHILD_KEY,
    GENE_ATTR,
    GENERATION_ATTR,
    ORIGIN_ATTR,
    ORIGIN_ENQUEUED,
    ORIGIN_RETRIED,
    PARENTS_ATTR,
    RETRY_OF_KEY,
    SCREENED_ATTR,
)
from optuna_hamming.sampler.search_space import GenomeSpace
from optuna_hamming.sampler.settings import Settings

# A claim found taken by another process moves to a free child at most this often.
MAX_MOVES = 5


@dataclass
class Ticket:
    """The child a running trial trains, for ``sample_independent`` and ``after_trial``."""

    values: dict[str, Any]
    space: GenomeSpace | None
    planned_gene: str | None
    rng: np.random.Generator
    float_bits: int  # the study's encoding of continuous floats (its stored settings)
    # Generation 0 as a Latin hypercube: (the child's index, the number of slices, the
    # study's seed); None for a random draw.
    latin: tuple[int, int, int] | None = None


def first_index(used: set[int], ahead: int) -> int:
    """The index a new trial takes: trials created before it that have not claimed yet will
    take the lowest free indices (they run this same rule), so it leaves those to them, and
    workers that see each other's trials never pick the same child."""
    free = (i for i in range(len(used) + ahead + 1) if i not in used)
    return [next(free) for _ in range(ahead + 1)][-1]


def retried_child(trial: FrozenTrial, open_generation: int) -> int | None:
    """The child index a retried trial takes over, when its generation is still open."""
    if RETRY_OF_KEY not in trial.system_attrs:
        return None
    claim = trial.system_attrs.get(CHILD_KEY)
    if not isinstance(claim, list) or len(claim) != 2 or claim[0] != open_generation:
        return None
    return int(claim[1])


def one_process(storage: BaseStorage) -> bool:
    """In-memory storage lives in one process, where the sampler's lock orders all claims."""
    return isinstance(storage, InMemoryStorage)


def claims_seen(
    trials: list[FrozenTrial], generation: int, own_number: int, own_index: int
) -> tuple[set[int], list[int]]:
    """What a trial sees of ``generation`` after writing its claim on ``own_index``: the child
    indices other trials hold, and the numbers of the other trials that hold ``own_index``
    too. A FAIL trial's index stays held: its replacement is an extra child, or a retry that
    takes it over on purpose."""
    taken, rivals = set(), []
    for t in trials:
        claim = t.system_attrs.get(CHILD_KEY)
        if claim is not None and t.number != own_number and claim[0] == generation:
            taken.add(int(claim[1]))
            if claim[1] == own_index:
                rivals.append(t.number)
    return taken, rivals


def moved_index(taken: set[int], own_index: int, own_number: int, rivals: list[int]) -> int:
    """Where a trial whose child another trial claimed too moves: past every index it sees
    taken, where new trials (which take the lowest free index) do not come, each rival to a
    different place by trial number. Rivals that see each other all move; the child they
    leave is taken by the next new trial."""
    rank = sum(1 for number in rivals if number < own_number)
    return max(taken | {own_index}) + 1 + rank


def latin_design(
    settings: Settings,
    plan: Plan,
    child: PlannedChild | None,
    index: int,
    *,
    enqueued: bool,
    retried: bool,
) -> bool:
    """Whether the trial claiming ``index`` of ``plan`` draws its genome from generation 0's
    Latin hypercube: a child of generation 0 within its planned size, when the child
    generation strategy says so (``latin_initial``). A retry takes its dead trial's index and
    values
    (Optuna copies them as fixed parameters), and the genes the dead trial had not reached
    yet come from the same slices. Extra children (for idle workers, or in place of a
    failed one) and the missing values of an enqueued trial are drawn at random."""
    return (
        settings.child_generation.latin_initial()
        and plan.generation == 0
        and child is None
        and (retried or not enqueued)
        and index < plan.population_size
    )


def describe(
    trial: FrozenTrial,
    plan: Plan,
    child: PlannedChild | None,
    *,
    seed: int,
    float_bits: int,
    enqueued: bool,
    retried: bool,
) -> tuple[Ticket, dict[str, Any]]:
    """The ticket of ``trial`` training ``child`` of ``plan``, and its ``ga.*`` attributes."""
    ticket = Ticket(
        values={} if child is None or plan.space is None else plan.space.decode(child.genome),
        space=plan.space,
        planned_gene=None,
        rng=np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([seed, 0xC0FFEE, trial.number]))
        ),
        float_bits=float_bits,
    )
    user: dict[str, Any] = {GENERATION_ATTR: plan.generation}
    if retried:
        user[ORIGIN_ATTR] = trial.user_attrs.get(ORIGIN_ATTR, ORIGIN_ENQUEUED)
        user[PARENTS_ATTR] = trial.user_attrs.get(PARENTS_ATTR, [])
    elif RETRY_OF_KEY in trial.system_attrs:
        # Its generation closed meanwhile: it joins this one like an enqueued trial.
        user[ORIGIN_ATTR], user[PARENTS_ATTR] = ORIGIN_RETRIED, []
    elif enqueued:
        user[ORIGIN_ATTR], user[PARENTS_ATTR] = ORIGIN_ENQUEUED, []
    elif child is None:
        user[ORIGIN_ATTR], user[PARENTS_ATTR] = ORIGIN_INITIAL, []
    else:
        user[ORIGIN_ATTR], user[PARENTS_ATTR] = child.origin, list(child.parents)
        if child.screened is not None:
            user[SCREENED_ATTR] = child.screened
        if plan.space is not None:
            ticket.planned_gene = user[GENE_ATTR] = plan.space.bitstring(child.genome)
    return ticket, user
