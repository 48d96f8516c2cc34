"""Generation plans: what the sampler keeps in the study's storage (layer 2).

A *plan* for generation ``g`` says who is carried into it (parents, and with
``skip_duplicates`` the children whose genome was already evaluated) and which children it
trains. Plan 0 is implicit: ``population_size`` random individuals. Plan ``g + 1`` is a pure
function of the members of generation ``g`` and the study seed, so every worker that computes
it gets the same plan; it is stored as a study system attribute so that the others read it
instead, and so that a reopened study continues where it stopped.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming import evolution
from optuna_hamming.search_space import GenomeSpace

# Storage keys. System attributes are the sampler's own state; the ``ga.*`` user attributes
# are for people (optuna-dashboard shows them) and for tracking.
SEED_KEY = "hamming_ga:seed"
PLAN_KEY_PREFIX = "hamming_ga:plan:"
CHILD_KEY = "hamming_ga:child"  # trial system attribute: [generation, child index]
GENERATION_ATTR = "ga.generation"
GENE_ATTR = "ga.gene"
ORIGIN_ATTR = "ga.origin"
PARENTS_ATTR = "ga.parents"
SUMMARY_PREFIX = "ga.generation."
ORIGIN_ENQUEUED = "enqueued"
# A plan whose generation is two behind the newest is replaced by this marker, so reading
# the study's system attributes stays cheap however long the study runs.
COMPACTED = "compacted"


@dataclass(frozen=True)
class PlannedChild:
    genome: tuple[int, ...]
    origin: str
    parents: tuple[int, ...]


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

    @property
    def needed(self) -> int:
        """How many children must finish (COMPLETE or PRUNED) before the generation closes."""
        return self.population_size if self.generation == 0 else len(self.children)

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "space": None if self.space is None else self.space.to_json(),
            "carried": [list(c) for c in self.carried],
            "children": [[list(c.genome), c.origin, list(c.parents)] for c in self.children],
            "population_size": self.population_size,
            "seed": self.seed_used,
            "n_parents": self.n_parents,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], float_bits: int) -> Plan:
        space = None if data["space"] is None else GenomeSpace.from_json(data["space"], float_bits)
        return cls(
            generation=int(data["generation"]),
            space=space,
            carried=tuple((int(n), float(v)) for n, v in data["carried"]),
            children=tuple(
                PlannedChild(tuple(int(x) for x in g), str(o), tuple(int(p) for p in ps))
                for g, o, ps in data["children"]
            ),
            population_size=int(data["population_size"]),
            seed_used=int(data.get("seed", 0)),
            n_parents=int(data.get("n_parents", len(data["carried"]))),
        )


def initial_plan(population_size: int) -> Plan:
    return Plan(0, None, (), (), population_size)


def fitness_of(trial: FrozenTrial) -> float | None:
    """A trial's fitness: its value, a PRUNED trial's last reported value, else None (FAIL)."""
    if trial.state == TrialState.COMPLETE:
        value = trial.value
    elif trial.state == TrialState.PRUNED and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    else:
        return None
    if value is None or not math.isfinite(value):
        return None
    return float(value)


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


def generation_rng(seed: int, generation: int, *extra: int) -> np.random.Generator:
    """The random stream of one generation's plan (or of one extra child)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, generation, *extra])))


@dataclass(frozen=True)
class Settings:
    population_size: int
    retain: float
    select: float
    mutate: float
    crossover_split: int | None
    float_bits: int
    skip_duplicates: bool
    max_redraws: int
    hamming_gate: bool = True  # ablations: the paper's algorithm has both
    forced_mutation: bool = True

    def split_for(self, space: GenomeSpace) -> int:
        n = len(space.names)
        if self.crossover_split is None:
            return evolution.default_split(n)
        return min(self.crossover_split, n)


@dataclass(frozen=True)
class Closure:
    """The outcome of closing a generation: the next plan and the summary for people."""

    plan: Plan
    summary: dict[str, Any]


def close_generation(
    plan: Plan,
    children: Sequence[FrozenTrial],
    trial_by_number: Callable[[int], FrozenTrial],
    all_trials: Callable[[], Sequence[FrozenTrial]],
    *,
    settings: Settings,
    maximize: bool,
    seed: int,
) -> Closure:
    """Steps 1-6 of Algorithm 1 on generation ``plan.generation``; returns plan ``g + 1``.

    ``children`` are the generation's finished children with a fitness, in child order; the
    first ``plan.needed`` of them are members, together with the carried individuals.
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
    selection = evolution.select_parents(
        values,
        genomes,
        layout,
        maximize=maximize,
        retain=settings.retain,
        select=settings.select,
        rng=rng,
        max_parents=settings.population_size - 1,
        hamming_gate=settings.hamming_gate,
    )
    parent_genomes = [genomes[i] for i in selection.parents]
    parent_numbers = [members[i][0] for i in selection.parents]
    carried = [members[i] for i in selection.parents]
    n_children = settings.population_size - len(selection.parents)
    split = settings.split_for(space)
    # The keyword set both breeding rules share (the paper's operators and their ablations).
    operators = evolution.BreedingOperators(
        split=split, mutate_rate=settings.mutate, rng=rng, forced_mutation=settings.forced_mutation
    )
    bred: list[tuple[evolution.Child, bool]] = []
    archive: dict[bytes, tuple[float, int]] = {}
    if settings.skip_duplicates:
        archive = build_archive(all_trials(), space, maximize=maximize)
        bred = evolution.breed_skipping_duplicates(
            parent_genomes,
            n_children,
            layout,
            **operators,
            is_evaluated=lambda g: g.tobytes() in archive,
            max_redraws=settings.max_redraws,
        )
        if not any(not evaluated for _, evaluated in bred):
            # Every genome of the space has been evaluated: fall back to the paper's rule.
            bred = []
    if not bred:
        plain = evolution.breed(parent_genomes, n_children, layout, **operators)
        bred = [(child, False) for child in plain]
    planned: list[PlannedChild] = []
    for child, evaluated in bred:
        if evaluated:
            value, number = archive[child.genome.tobytes()]
            carried.append((number, value))
            continue
        origin_parents: tuple[int, ...] = ()
        if child.male >= 0:
            origin_parents = (parent_numbers[child.male], parent_numbers[child.female])
        genome = tuple(int(x) for x in child.genome)
        planned.append(PlannedChild(genome, child.origin, origin_parents))
    retained_values = [members[i][1] for i in selection.retained]
    best = max(values) if maximize else min(values)
    summary = {
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
        "next_archived": sum(1 for _, evaluated in bred if evaluated),
        "forced_mutations": sum(1 for c in planned if c.origin == evolution.ORIGIN_FORCED_MUTATION),
    }
    next_plan = Plan(
        plan.generation + 1,
        space,
        tuple(carried),
        tuple(planned),
        settings.population_size,
        seed,
        len(selection.parents),
    )
    return Closure(next_plan, summary)


def extra_child(
    plan: Plan,
    index: int,
    trial_by_number: Callable[[int], FrozenTrial],
    *,
    settings: Settings,
    seed: int,
) -> PlannedChild | None:
    """Child ``index`` beyond the plan's list (a replacement for a failed child).

    Drawn from the plan's parents with a stream of its own, so it is the same in every
    worker. Generation 0 has no genomes: its extra children are random, like the rest.
    """
    parents = plan.carried[: plan.n_parents]
    if plan.generation == 0 or plan.space is None or not parents:
        return None
    genomes = [plan.space.encode(trial_by_number(n).params) for n, _ in parents]
    rng = generation_rng(seed, plan.generation, 1, index)
    child = evolution.breed_one(
        genomes,
        plan.space.layout,
        split=settings.split_for(plan.space),
        mutate_rate=settings.mutate,
        rng=rng,
        forced_mutation=settings.forced_mutation,
    )
    return PlannedChild(
        tuple(int(x) for x in child.genome),
        child.origin,
        (parents[child.male][0], parents[child.female][0]),
    )


def build_archive(
    trials: Sequence[FrozenTrial], space: GenomeSpace, *, maximize: bool
) -> dict[bytes, tuple[float, int]]:
    """Best fitness and its trial number for every genome evaluated so far (the paper's archive)."""
    archive: dict[bytes, tuple[float, int]] = {}
    keys = _genome_keys(space)
    for trial in trials:
        value = fitness_of(trial)
        if value is None:
            continue
        params = tuple(sorted(trial.params.items()))
        key = keys.get(params)
        if key is None:
            key = keys[params] = space.encode(trial.params).tobytes()
        known = archive.get(key)
        if known is None or (value > known[0] if maximize else value < known[0]):
            archive[key] = (value, trial.number)
    return archive


@functools.lru_cache(maxsize=8)
def _genome_keys(space: GenomeSpace) -> dict[tuple[tuple[str, Any], ...], bytes]:
    """Genome bytes by parameter set, per space (equal spaces share one memo).

    The archive re-reads every trial at each generation close; encoding them all again made
    the closes quadratic in the study's length (two thirds of the time of a 600-trial
    study on a tabular task).
    """
    return {}


def trial_numbered(trials: list[FrozenTrial], number: int) -> FrozenTrial:
    """``trials`` come sorted by number without gaps, so the number is the index."""
    if number < len(trials) and trials[number].number == number:
        return trials[number]
    for trial in trials:
        if trial.number == number:
            return trial
    raise KeyError(f"trial {number} is not in the study")


def read_archive(study: Study) -> dict[str, float]:
    """Best fitness per ``ga.gene`` bit string over all finished trials."""
    maximize = study.direction == StudyDirection.MAXIMIZE
    best: dict[str, float] = {}
    for trial in study.get_trials(deepcopy=False):
        gene = trial.user_attrs.get(GENE_ATTR)
        value = fitness_of(trial)
        if gene is None or value is None:
            continue
        known = best.get(gene)
        if known is None or (value > known if maximize else value < known):
            best[gene] = value
    return best


def read_generations(study: Study) -> dict[int, dict[str, Any]]:
    """The ``ga.generation.<g>`` summaries of a study, by generation number."""
    found = {}
    for key, value in study.user_attrs.items():
        suffix = key[len(SUMMARY_PREFIX) :]
        if key.startswith(SUMMARY_PREFIX) and suffix.isdigit():
            found[int(suffix)] = value
    return dict(sorted(found.items()))
