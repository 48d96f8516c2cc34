"""A trial's claim on a child of the open generation, and what it tells the trial.

Each trial holds ``hamming_ga:child = [generation, index]``; the functions here decide which
index a new trial takes and describe the child behind it: the values ``sample_independent``
serves and the ``ga.*`` user attributes people see.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

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
    claim_key,
    claim_prefix,
    genome_claim_key,
)
from optuna_hamming.sampler.search_space import GenomeSpace
from optuna_hamming.sampler.settings import Settings
from optuna_hamming.storages.claims import claim, claims_held

if TYPE_CHECKING:
    from optuna_hamming.sampler._state import StudyState

# Children a trial passes over for their genome before it trains one whatever its genome
# (every genome near the parents taken: the paper's rule, a repeat, rather than no child).
MAX_SKIPS = 32
# Children passed over on what a trial read, without a write, before it claims whatever
# comes (a study that has trained nearly every genome near its parents).
MAX_PASSED = 512


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
    # The archive rule: a genome drawn at random is claimed when the trial ends, so that a
    # planned child of the same genome is passed over even by a worker that has not read it.
    claim_genome: bool = False


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


def claim_child(
    study: Study,
    number: int,
    state: StudyState,
    trials: list[FrozenTrial],
    used: set[int],
    ahead: int,
    *,
    genomes: bool = True,
) -> tuple[int, PlannedChild | None]:
    """The child index of the open generation that trial ``number`` takes, and its child.

    Each index is taken by an atomic claim (:func:`optuna_hamming.storages.claims.claim`),
    so two workers never train one child, however their reads interleave. Under the archive
    rule (``skip_duplicates``) the child's genome is claimed too, and a child whose genome a
    trial already trained or trains (the archive, the running trials, or a claim another
    worker just took) is passed over: the trial moves to the next index, whose child is the
    plan's next one, the next screened candidate of its reserve, or a child bred for it.
    """
    storage, study_id = study._storage, study._study_id
    plan = state.plans[state.open_generation]
    space = plan.space if state.settings.skip_duplicates and genomes else None
    seen = genes_in(trials) if space is not None else set()
    taken = set(used)  # indices other trials hold, as far as this trial knows
    passed: set[int] = set()  # indices passed over for their genome on this read
    index = first_index(used, ahead)
    skips_left = MAX_SKIPS
    while True:
        child = state.child_at(study, index, trials)
        gene = None if child is None or space is None else space.bitstring(child.genome)
        if gene in seen and len(passed) < MAX_PASSED:
            # Passed over on this read alone, without a write. Past MAX_PASSED every genome
            # near the parents is trained: the paper's rule, the lowest free child.
            passed.add(index)
            if len(passed) == MAX_PASSED:
                passed, seen = set(), set()
        elif claim(storage, study_id, claim_key(plan.generation, index), number) != number:
            # Taken by another worker meanwhile: read every claim of the generation at once,
            # rather than losing the next race too to the workers that lost this one.
            prefix = claim_prefix(plan.generation)
            taken |= {int(key[len(prefix) :]) for key in claims_held(storage, study_id, prefix)}
            taken.add(index)
        elif gene is None or not seen:
            return index, child  # no archive rule, or the paper's rule past MAX_PASSED
        elif claim(storage, study_id, genome_claim_key(gene), number) == number:
            return index, child
        else:
            # The genome was claimed after this read: the index stays taken, passed over.
            passed.add(index)
            skips_left -= 1
            if skips_left == 0:
                return index, child
        index = next(i for i in itertools.count() if i not in taken and i not in passed)


def genes_in(trials: list[FrozenTrial]) -> set[str]:
    """The genomes trials trained or train (their ``ga.gene``): finished trials write theirs
    at the end, a running child holds its planned one from the start."""
    return {
        gene
        for t in trials
        if t.state != TrialState.FAIL and isinstance(gene := t.user_attrs.get(GENE_ATTR), str)
    }


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
