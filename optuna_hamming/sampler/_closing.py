"""Closing a generation: when it can close, with which members, and the plan that follows.

A generation closes when as many of its children have finished (COMPLETE, or PRUNED with a
reported value) as its plan trains, taken in child order and only once every claim before
them has finished (:func:`closing_members`), so that all workers close it alike and compute
the same next plan (:func:`close_generation`, Algorithm 1 on the members). Children beyond
the plan (replacements for failed ones, work for idle workers) come from
:func:`extra_child`, drawn from the same parents with streams of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from optuna_hamming.ga.breeding import ORIGIN_FORCED_MUTATION, Child, breed_one
from optuna_hamming.ga.genome import IntArray
from optuna_hamming.sampler._plan import Plan, PlannedChild, generation_rng
from optuna_hamming.sampler.archive import fitness_of
from optuna_hamming.sampler.attributes import GenerationSummary
from optuna_hamming.sampler.child_generation import BreedingContext, history_members
from optuna_hamming.sampler.search_space import GenomeSpace
from optuna_hamming.sampler.settings import Settings, strategy_name


def closing_members(claims: Sequence[FrozenTrial], needed: int) -> list[FrozenTrial] | None:
    """The members a generation closes with, or None while it cannot close yet.

    ``claims`` are the trials that hold a child of the generation, in child order (index,
    then trial number). Members are the first ``needed`` of them with a fitness, and the
    generation closes only when every claim before the last member has finished: then two
    workers that see different trials finished still close it with the same members (or
    one of them waits), so both compute the same next plan.

    A claim that ``needed`` later claims finished before (a worker that died, a trial far
    slower than a generation) is passed over, so a dead worker cannot stall the study. The
    rule reads only finish times that storage holds, so every worker passes over the same
    claims.
    """
    finish = [_completed_at(t) for t in claims]
    members: list[FrozenTrial] = []
    for position, trial in enumerate(claims):
        if len(members) == needed:
            break
        mine = finish[position]
        overtaking = sum(
            1
            for later in range(position + 1, len(claims))
            if finish[later] is not None and (mine is None or finish[later] < mine)
        )
        if overtaking >= needed:
            continue
        if not trial.state.is_finished():
            return None
        if fitness_of(trial) is not None:
            members.append(trial)
    return members if len(members) == needed else None


def _completed_at(trial: FrozenTrial) -> Any:
    """When a claim finished with a fitness (None: running, failed, or without a value)."""
    if fitness_of(trial) is None:
        return None
    return trial.datetime_complete


@dataclass(frozen=True)
class Closure:
    """The outcome of closing a generation: the next plan and the summary for people."""

    plan: Plan
    summary: GenerationSummary


def close_generation(
    plan: Plan,
    children: Sequence[FrozenTrial],
    trial_by_number: Callable[[int], FrozenTrial],
    all_trials: Callable[[], Sequence[FrozenTrial]],
    *,
    settings: Settings,
    maximize: bool,
    seed: int,
    closed_members: Callable[[], Sequence[Sequence[int]]] = lambda: (),
) -> Closure:
    """Steps 1-6 of Algorithm 1 on generation ``plan.generation``; returns plan ``g + 1``.

    ``children`` are the generation's finished children with a fitness, in child order; the
    first ``plan.needed`` of them are members, together with the carried individuals.
    ``closed_members`` gives the members of the generations closed before (the screening's
    model is fitted on them and on this generation's members).
    """
    members: list[tuple[int, float]] = list(plan.carried)
    for trial in children[: plan.needed]:
        value = fitness_of(trial)
        assert value is not None
        members.append((trial.number, value))
    member_trials = [trial_by_number(number) for number, _ in members]
    distinct = sorted({t.number: t for t in member_trials}.values(), key=lambda t: t.number)
    space = GenomeSpace.from_trials(distinct, settings.float_bits)
    layout = space.layout
    genomes = np.array([space.encode(t.params) for t in member_trials], dtype=np.int64)
    genomes = genomes.reshape(len(member_trials), len(space.names))
    values = [v for _, v in members]
    rng = generation_rng(seed, plan.generation + 1)
    selection = settings.selection(
        values,
        genomes,
        layout,
        maximize=maximize,
        rng=rng,
        max_parents=settings.population_size - 1,
    )
    parent_genomes = [genomes[i] for i in selection.parents]
    parent_numbers = [members[i][0] for i in selection.parents]
    carried = [members[i] for i in selection.parents]
    brood = settings.child_generation(
        BreedingContext(
            space=space,
            parent_genomes=parent_genomes,
            n_free=settings.population_size - len(selection.parents),
            split=settings.split_for(space),
            mutation=settings.mutation,
            maximize=maximize,
            rng=rng,
            generation=plan.generation + 1,
            skip_duplicates=settings.skip_duplicates,
            max_redraws=settings.max_redraws,
            all_trials=all_trials,
            history=lambda: history_members(
                closed_members, [n for n, _ in members], trial_by_number
            ),
        )
    )
    carried += brood.archived

    def planned_child(child: Child, prediction: dict[str, Any] | None) -> PlannedChild:
        origin_parents: tuple[int, ...] = ()
        if child.male >= 0:
            origin_parents = (parent_numbers[child.male], parent_numbers[child.female])
        genome = tuple(int(x) for x in child.genome)
        return PlannedChild(genome, child.origin, origin_parents, prediction)

    planned = [planned_child(child, prediction) for child, prediction in brood.children]
    retained_values = [members[i][1] for i in selection.retained]
    best = max(values) if maximize else min(values)
    summary: GenerationSummary = {
        "members": [n for n, _ in members],
        "fitness": values,
        "retained": [members[i][0] for i in selection.retained],
        "selected": [members[i][0] for i in selection.selected],
        "significant": selection.significant,
        "hamming_min": selection.hamming_min,
        "hamming_max": selection.hamming_max,
        "best": best,
        "mean_retained": float(np.mean(retained_values)) if retained_values else best,
        "genes": [space.bitstring(g) for g in genomes],
        "next_children": len(planned),
        "next_archived": len(brood.archived),
        "forced_mutations": sum(1 for c in planned if c.origin == ORIGIN_FORCED_MUTATION),
        "selection": strategy_name(settings.selection),
        "mutation": strategy_name(settings.mutation),
    }
    if brood.report is not None:
        summary["screening"] = brood.report
    next_plan = Plan(
        plan.generation + 1,
        space,
        tuple(carried),
        tuple(planned),
        settings.population_size,
        seed,
        len(selection.parents),
        tuple(planned_child(child, prediction) for child, prediction in brood.reserve),
    )
    return Closure(next_plan, summary)


def extra_child(
    plan: Plan,
    index: int,
    parent_genomes: Sequence[IntArray],
    *,
    settings: Settings,
    seed: int,
) -> PlannedChild | None:
    """Child ``index`` beyond the plan's children and reserve (work for a worker that finds
    them all taken, or a replacement for a failed child).

    Drawn from the plan's parents (``parent_genomes``, encoded by :func:`parents_of`) with a
    stream of its own, so it is the same in every worker. Generation 0 has no genomes: its
    extra children are random, like the rest.
    """
    parents = plan.carried[: plan.n_parents]
    if plan.generation == 0 or plan.space is None or not parents:
        return None
    rng = generation_rng(seed, plan.generation, 1, index)
    child = breed_one(
        parent_genomes,
        plan.space.layout,
        split=settings.split_for(plan.space),
        mutation=settings.mutation,
        rng=rng,
    )
    return PlannedChild(
        tuple(int(x) for x in child.genome),
        child.origin,
        (parents[child.male][0], parents[child.female][0]),
    )


def parents_of(plan: Plan, trial_by_number: Callable[[int], FrozenTrial]) -> list[IntArray]:
    """The genomes of the plan's parents, in its order (what extra children are bred from)."""
    if plan.space is None:
        return []
    return [plan.space.encode(trial_by_number(n).params) for n, _ in plan.carried[: plan.n_parents]]


def trial_numbered(trials: list[FrozenTrial], number: int) -> FrozenTrial:
    """``trials`` come sorted by number without gaps, so the number is the index."""
    if number < len(trials) and trials[number].number == number:
        return trials[number]
    for trial in trials:
        if trial.number == number:
            return trial
    raise KeyError(f"trial {number} is not in the study")


def trial_lookup(
    storage: BaseStorage, study_id: int, trials: list[FrozenTrial]
) -> Callable[[int], FrozenTrial]:
    """``trial_numbered`` on ``trials``, or on the storage for a trial newer than them: a
    plan that another worker computed from a newer read may name such a trial."""

    def by_number(number: int) -> FrozenTrial:
        try:
            return trial_numbered(trials, number)
        except KeyError:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
            return storage.get_trial(trial_id)

    return by_number
