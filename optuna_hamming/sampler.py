"""HammingGASampler: the paper's genetic algorithm as an Optuna sampler (layer 2).

All GA state lives in the study's storage, so threads, processes and machines that share a
storage cooperate without waiting for each other, and a stopped study continues when it is
reopened:

* each trial carries the system attribute ``hamming_ga:child = [generation, index]`` and the
  user attributes ``ga.generation``, ``ga.gene``, ``ga.origin`` and ``ga.parents``;
* each generation ``g > 0`` has a plan (carried parents and the children to train) in the
  study system attribute ``hamming_ga:plan:<g>``, computed deterministically from the members
  of generation ``g - 1`` and the study seed, and a summary for people in the study user
  attribute ``ga.generation.<g - 1>``.

A new trial joins the open generation and takes the lowest child index no other trial of that
generation holds; a generation closes when as many of its children have finished (COMPLETE,
or PRUNED with a reported value) as its plan trains, taken in child order and only once every
claim before them has finished (``closing_members``), so that all workers close it alike.
Children beyond the plan (replacements for failed ones, work for idle workers) are drawn
from the same parents with streams of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming._storage_writes import set_trial_attrs
from optuna_hamming._validation import _check_int, checked_settings
from optuna_hamming.claims import (
    MAX_MOVES,
    Ticket,
    claims_seen,
    describe,
    first_index,
    moved_index,
    one_process,
    retried_child,
)
from optuna_hamming.generations import (
    CHILD_KEY,
    COMPACTED,
    GENE_ATTR,
    PLAN_KEY_PREFIX,
    SEED_KEY,
    SUMMARY_PREFIX,
    Plan,
    PlannedChild,
    Settings,
    close_generation,
    closing_members,
    extra_child,
    initial_plan,
    read_archive,
    read_generations,
    trial_numbered,
)
from optuna_hamming.search_space import GenomeSpace, contains, gene_for

_MAX_SEED = 2**62


@dataclass
class _StudyCache:
    """What one process knows of a study's GA state (a cache of the storage, never the truth)."""

    seed: int
    plans: dict[int, Plan]
    open_generation: int
    scan_from: int = 0


class HammingGASampler(BaseSampler):
    """Genetic algorithm with Hamming-distance-gated selection (paper, Algorithm 1).

    Args:
        population_size: Individuals per generation (paper: 30). At least 2.
        retain: Fraction of the graded population kept as parents (paper: 0.4).
        select: Probability that a non-retained individual is admitted by the gate (0.5).
        mutate: Probability that a crossover child is mutated (0.2).
        crossover_split: Number of leading parameters (in suggestion order) that form part A;
            ``None`` takes the first half.
        float_bits: Continuous floats are encoded on ``2**float_bits`` grid points.
        skip_duplicates: A child whose genome was already evaluated joins the population with
            its archived fitness instead of becoming a trial. Off by default (the paper).
        max_redraws: With ``skip_duplicates``, redraws before a random unevaluated genome.
        seed: Seed of the study's random streams; with one worker, a seeded study is
            reproducible bit for bit. A study keeps the seed it was started with.
        hamming_gate: Ablation switch. False admits non-retained individuals with
            probability ``select`` whatever their Hamming distances.
        forced_mutation: Ablation switch. False lets parents with equal genomes give an
            unmutated copy (mutated only with probability ``mutate``).
    """

    def __init__(
        self,
        *,
        population_size: int = 30,
        retain: float = 0.4,
        select: float = 0.5,
        mutate: float = 0.2,
        crossover_split: int | None = None,
        float_bits: int = 8,
        skip_duplicates: bool = False,
        max_redraws: int = 100,
        seed: int | None = None,
        hamming_gate: bool = True,
        forced_mutation: bool = True,
    ) -> None:
        self._settings = checked_settings(
            population_size=population_size,
            retain=retain,
            select=select,
            mutate=mutate,
            crossover_split=crossover_split,
            float_bits=float_bits,
            skip_duplicates=skip_duplicates,
            max_redraws=max_redraws,
            hamming_gate=hamming_gate,
            forced_mutation=forced_mutation,
        )
        if seed is not None:
            seed = _check_int(
                "seed", seed, low=0, high=_MAX_SEED - 1, hint="Pass a non-negative int or None."
            )
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._studies: dict[tuple[int, int], _StudyCache] = {}
        self._tickets: dict[int, Ticket] = {}

    # -- settings ------------------------------------------------------------------------

    @property
    def population_size(self) -> int:
        return self._settings.population_size

    @property
    def settings(self) -> Settings:
        return self._settings

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_studies"] = {}
        state["_tickets"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def reseed_rng(self) -> None:
        # Only draws that are not shared with other workers use this generator: plans come
        # from the study seed in storage, so reseeding never splits the workers' plans.
        self._rng = np.random.default_rng()

    # -- Optuna's sampler interface -------------------------------------------------------

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        # Parameters are served one by one in suggestion order (sample_independent), which
        # keeps the paper's gene order and makes conditional spaces work.
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        ticket = self._tickets.get(trial._trial_id)
        if ticket is not None and param_name in ticket.values:
            value = ticket.values[param_name]
            if contains(param_distribution, value):
                return value
        rng = ticket.rng if ticket is not None else self._rng
        gene = gene_for(param_distribution, self._settings.float_bits)
        return gene.value_at(int(rng.integers(gene.n_choices)))

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        if len(study.directions) > 1:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            raise ValueError(
                "HammingGASampler optimises one objective; this study has "
                f"{len(study.directions)}. Use optuna.samplers.NSGAIISampler for "
                "multi-objective studies, or return a single value."
            )
        storage = study._storage
        enqueued = bool(trial.params) or "fixed_params" in trial.system_attrs
        with self._lock:
            cache = self._cache_for(study)
            trials = storage.get_all_trials(study._study_id, deepcopy=False)
            used, ahead, racing = self._advance(study, cache, trials, own_number=trial.number)
            generation = cache.open_generation
            retried = retried_child(trial, generation)
            # A retry of a child whose worker died (Optuna's heartbeat callback copies the
            # trial) takes the dead trial's place in its generation while that is open.
            index = retried if retried is not None else first_index(used, ahead)
            for moves in range(MAX_MOVES + 1):
                child = self._child_at(cache.plans[generation], index, trials, cache.seed)
                ticket, user = describe(
                    trial,
                    cache.plans[generation],
                    child,
                    seed=cache.seed,
                    enqueued=enqueued,
                    retried=retried is not None,
                )
                self._tickets[trial._trial_id] = ticket
                # The claim must be visible before the lock is released (threads read it).
                set_trial_attrs(
                    storage, trial._trial_id, system={CHILD_KEY: [generation, index]}, user=user
                )
                if not racing or retried is not None or moves == MAX_MOVES or one_process(storage):
                    break
                # Another process may have claimed the same child from a snapshot taken
                # before this claim was written (it showed that trial without a claim). Of
                # two such claims, at least one sees the other on this read (each was
                # written before its own read): it moves on. Trials created after the
                # snapshot leave this one's child to it (the `ahead` rule).
                trials = storage.get_all_trials(study._study_id, deepcopy=False)
                taken, rivals = claims_seen(trials, generation, trial.number, index)
                if not rivals:
                    break
                index = moved_index(taken, index, trial.number, rivals)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        ticket = self._tickets.pop(trial._trial_id, None)
        if ticket is None:
            return
        if ticket.planned_gene is not None and trial.params == ticket.values:
            return  # the objective took the planned child as it was: its gene is written
        gene = self._gene_for(ticket, trial)
        if gene != ticket.planned_gene:
            study._storage.set_trial_user_attr(trial._trial_id, GENE_ATTR, gene)

    def gene_of(self, trial: FrozenTrial) -> str | None:
        """The ``ga.gene`` bit string of a running trial's parameters so far: what
        ``after_trial`` will store if the objective suggests nothing more. None for trials
        this sampler object did not start."""
        ticket = self._tickets.get(trial._trial_id)
        if ticket is None:
            return None
        if ticket.planned_gene is not None and trial.params == ticket.values:
            return ticket.planned_gene
        return self._gene_for(ticket, trial)

    def _gene_for(self, ticket: Ticket, trial: FrozenTrial) -> str:
        space = ticket.space
        if space is None or not set(trial.params) <= set(space.names):
            space = GenomeSpace.from_trials([trial], self._settings.float_bits)
        return space.bitstring(space.encode(trial.params))

    # -- reading the GA state ------------------------------------------------------------

    @staticmethod
    def archive(study: Study) -> dict[str, float]:
        """Best fitness per genome bit string over all finished trials (the paper's archive)."""
        return read_archive(study)

    @staticmethod
    def generations(study: Study) -> dict[int, dict[str, Any]]:
        """The summary of every closed generation, by generation number."""
        return read_generations(study)

    def close_finished_generations(self, study: Study) -> int:
        """Close every generation whose members have all finished and return how many
        generations are closed. A generation otherwise closes when the next trial starts;
        call this after ``optimize`` to stop exactly at a generation boundary."""
        with self._lock:
            cache = self._cache_for(study)
            trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
            self._advance(study, cache, trials, own_number=-1)
        return len(read_generations(study))

    # -- bookkeeping ------------------------------------------------------------------------

    def _cache_for(self, study: Study) -> _StudyCache:
        key = (id(study._storage), study._study_id)
        cache = self._studies.get(key)
        if cache is None:
            cache = self._load(study)
            self._studies[key] = cache
        return cache

    def _load(self, study: Study) -> _StudyCache:
        storage = study._storage
        attrs = storage.get_study_system_attrs(study._study_id)
        seed = attrs.get(SEED_KEY)
        if seed is None:
            seed = self._seed if self._seed is not None else int(self._rng.integers(_MAX_SEED))
            storage.set_study_system_attr(study._study_id, SEED_KEY, seed)
        plans = {0: initial_plan(self._settings.population_size)}
        newest = self._newest_plan(attrs)
        if newest is not None:
            plans[newest.generation] = newest
        return _StudyCache(int(seed), plans, max(plans))

    def _newest_plan(self, attrs: dict[str, Any]) -> Plan | None:
        stored = {
            int(key[len(PLAN_KEY_PREFIX) :]): value
            for key, value in attrs.items()
            if key.startswith(PLAN_KEY_PREFIX) and value != COMPACTED
        }
        if not stored:
            return None
        return Plan.from_json(stored[max(stored)], self._settings.float_bits)

    def _advance(
        self, study: Study, cache: _StudyCache, trials: list[FrozenTrial], own_number: int
    ) -> tuple[set[int], int, bool]:
        """Close every complete generation; return the child indices in use in the open one,
        the number of running trials created before ``own_number`` that hold none yet, and
        whether any other running trial holds none yet (a claim may be racing this one)."""
        while True:
            generation = cache.open_generation
            plan = cache.plans[generation]
            claims: list[tuple[int, int, FrozenTrial]] = []
            used: set[int] = set()
            ahead = 0
            racing = False
            first_relevant: int | None = None
            for trial in trials[cache.scan_from :]:
                child = trial.system_attrs.get(CHILD_KEY)
                running = not trial.state.is_finished()
                if child is None and trial.state == TrialState.RUNNING:
                    ahead += trial.number < own_number
                    racing = racing or trial.number != own_number
                if child is None or child[0] > generation:
                    if (running or child is not None) and first_relevant is None:
                        first_relevant = trial.number
                    continue
                if child[0] < generation:
                    continue
                if first_relevant is None:
                    first_relevant = trial.number
                if trial.number != own_number:
                    used.add(int(child[1]))
                if trial.number != own_number:
                    claims.append((int(child[1]), trial.number, trial))
            cache.scan_from = len(trials) if first_relevant is None else first_relevant
            claims.sort(key=lambda item: (item[0], item[1]))
            members = closing_members([t for _, _, t in claims], plan.needed)
            if members is None:
                return used, ahead, racing
            self._close(study, cache, plan, members, trials)

    def _close(
        self,
        study: Study,
        cache: _StudyCache,
        plan: Plan,
        children: list[FrozenTrial],
        trials: list[FrozenTrial],
    ) -> None:
        storage = study._storage
        attrs = storage.get_study_system_attrs(study._study_id)
        cache.seed = int(attrs.get(SEED_KEY, cache.seed))
        following = plan.generation + 1
        stored = attrs.get(PLAN_KEY_PREFIX + str(following))
        if stored == COMPACTED:
            # This process fell far behind the others: continue from the newest plan.
            newest = self._newest_plan(attrs)
            assert newest is not None
            next_plan = newest
        elif stored is not None:
            next_plan = Plan.from_json(stored, self._settings.float_bits)
        else:
            closure = close_generation(
                plan,
                children,
                lambda number: trial_numbered(trials, number),
                lambda: trials,
                settings=self._settings,
                maximize=study.direction == StudyDirection.MAXIMIZE,
                seed=cache.seed,
            )
            next_plan = closure.plan
            storage.set_study_system_attr(
                study._study_id, PLAN_KEY_PREFIX + str(following), next_plan.to_json()
            )
            storage.set_study_user_attr(
                study._study_id, SUMMARY_PREFIX + str(plan.generation), closure.summary
            )
            if plan.generation >= 1:
                storage.set_study_system_attr(
                    study._study_id, PLAN_KEY_PREFIX + str(plan.generation), COMPACTED
                )
        cache.plans = {plan.generation: plan, next_plan.generation: next_plan}
        cache.open_generation = next_plan.generation

    def _child_at(
        self, plan: Plan, index: int, trials: list[FrozenTrial], seed: int
    ) -> PlannedChild | None:
        if plan.generation == 0:
            return None
        if index < len(plan.children):
            return plan.children[index]
        return extra_child(
            plan,
            index,
            lambda number: trial_numbered(trials, number),
            settings=self._settings,
            seed=seed,
        )
