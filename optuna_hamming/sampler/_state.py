"""What one process knows of each study's GA state: a cache of the storage, never the truth.

:class:`StudyState` holds a study's seed, its newest plans and the open generation, and
advances them from the trials in storage (closing every generation that can close).
:class:`StudyStates` finds the state of a study, and makes sure that a state never outlives
or crosses its study: entries are held per storage object through a weak reference (a new
storage that reuses a freed address is another key), checked against what the storage
holds (a study replaced under the same id is reloaded), and bounded in number.
"""

from __future__ import annotations

import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from optuna.storages import BaseStorage
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming.ga.genome import IntArray
from optuna_hamming.sampler._closing import (
    close_generation,
    closing_members,
    extra_child,
    parents_of,
    trial_lookup,
)
from optuna_hamming.sampler._plan import Plan, PlannedChild, initial_plan
from optuna_hamming.sampler._stored_settings import settings_to_json, study_settings
from optuna_hamming.sampler.attributes import (
    CHILD_KEY,
    COMPACTED,
    PLAN_KEY_PREFIX,
    SEED_KEY,
    SETTINGS_KEY,
    SUMMARY_PREFIX,
    close_key,
    plan_key,
    summary_key,
)
from optuna_hamming.sampler.settings import Settings
from optuna_hamming.storages import set_study_attrs, study_system_attrs
from optuna_hamming.storages.claims import claim

# Studies per storage object whose state a process keeps; an evicted one is reloaded from
# storage when it is used again (correct, only slower).
MAX_STUDIES_PER_STORAGE = 16
# Seconds a worker waits for the plan of a generation whose close another worker claimed.
CLOSE_WAIT = 60.0


@dataclass
class StudyState:
    """One study's GA state as this process last read it."""

    study_name: str
    seed: int
    # The settings the study keeps (stored with it by the first worker; _stored_settings).
    settings: Settings
    plans: dict[int, Plan]
    open_generation: int
    scan_from: int = 0  # trials before this number belong to closed generations
    # The study's trial 0 once seen (its id and start): storages may hand out the ids of a
    # deleted study's trials again, not its start times.
    first_trial: tuple[int, Any] | None = field(default=None)
    # The members of closed generations, by generation, as their summaries recorded them
    # (summaries never change once written, so this cache is never stale; the screening
    # fits on them at every close, and reading them all from an RDB each time was a third
    # of its cost on SQLite).
    members_of: dict[int, list[int]] = field(default_factory=dict)
    # The open plan's parent genomes, by generation (extra children are bred from them).
    parents: tuple[int, list[IntArray]] | None = None

    @classmethod
    def load(cls, study: Study, settings: Settings, new_seed: Callable[[], int]) -> StudyState:
        storage = study._storage
        attrs = storage.get_study_system_attrs(study._study_id)
        seed = attrs.get(SEED_KEY)
        if seed is None:
            seed = new_seed()
            storage.set_study_system_attr(study._study_id, SEED_KEY, seed)
        stored = attrs.get(SETTINGS_KEY)
        if not isinstance(stored, dict):
            stored = None
            storage.set_study_system_attr(study._study_id, SETTINGS_KEY, settings_to_json(settings))
        settings = study_settings(stored, settings, study.study_name)
        plans = {0: initial_plan(settings.initial_size)}
        newest = newest_plan(attrs, settings.float_bits)
        if newest is not None:
            plans[newest.generation] = newest
        return cls(study.study_name, int(seed), settings, plans, max(plans))

    def holds(self, study: Study, trials: list[FrozenTrial]) -> bool:
        """Whether this state is still that of ``study`` as ``trials`` show it."""
        if study.study_name != self.study_name or len(trials) < self.scan_from:
            return False
        if self.first_trial is not None:
            return bool(trials) and _identity(trials[0]) == self.first_trial
        return True

    def advance(
        self, study: Study, trials: list[FrozenTrial], own_number: int
    ) -> tuple[set[int], int, bool]:
        """Close every complete generation; return the child indices in use in the open one,
        the number of running trials created before ``own_number`` that hold none yet, and
        whether any other running trial holds none yet (a claim may be racing this one)."""
        if trials and self.first_trial is None:
            self.first_trial = _identity(trials[0])
        while True:
            generation = self.open_generation
            plan = self.plans[generation]
            claims: list[tuple[int, int, FrozenTrial]] = []
            used: set[int] = set()
            ahead = 0
            racing = False
            first_relevant: int | None = None
            for trial in trials[self.scan_from :]:
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
                    claims.append((int(child[1]), trial.number, trial))
            self.scan_from = len(trials) if first_relevant is None else first_relevant
            claims.sort(key=lambda item: (item[0], item[1]))
            members = closing_members([t for _, _, t in claims], plan.needed)
            if members is None:
                return used, ahead, racing
            self._close(study, plan, members, trials, own_number)

    def _close(
        self,
        study: Study,
        plan: Plan,
        children: list[FrozenTrial],
        trials: list[FrozenTrial],
        own_number: int,
    ) -> None:
        storage = study._storage
        settings = self.settings
        following = plan.generation + 1
        # The two keys alone: the study holds one plan key per closed generation.
        attrs = study_system_attrs(storage, study._study_id, (SEED_KEY, plan_key(following)))
        self.seed = int(attrs.get(SEED_KEY, self.seed))
        stored = attrs.get(plan_key(following))
        if stored is None:
            stored = self._closed_by_another(study, plan.generation, own_number, trials)
        if stored == COMPACTED:
            # This process fell far behind the others: continue from the newest plan.
            every = storage.get_study_system_attrs(study._study_id)
            newest = newest_plan(every, settings.float_bits)
            assert newest is not None
            next_plan = newest
        elif stored is not None:
            next_plan = Plan.from_json(stored, settings.float_bits)
        else:
            closure = close_generation(
                plan,
                children,
                trial_lookup(storage, study._study_id, trials),
                lambda: trials,
                settings=settings,
                maximize=study.direction == StudyDirection.MAXIMIZE,
                seed=self.seed,
                closed_members=lambda: self._closed_members(study, plan.generation),
            )
            next_plan = closure.plan
            # The summary with (or, without transactions, before) the plan: a worker that
            # finds plan g + 1 stored then also finds summary g, whose members the
            # screening's next fit reads.
            system: dict[str, Any] = {plan_key(following): next_plan.to_json()}
            if plan.generation >= 1:
                system[plan_key(plan.generation)] = COMPACTED
            set_study_attrs(
                storage,
                study._study_id,
                system=system,
                user={summary_key(plan.generation): closure.summary},
            )
            self.members_of[plan.generation] = list(closure.summary["members"])
        self.plans = {plan.generation: plan, next_plan.generation: next_plan}
        self.open_generation = next_plan.generation

    def _closed_by_another(
        self, study: Study, generation: int, own_number: int, trials: list[FrozenTrial]
    ) -> Any:
        """The plan that follows ``generation`` as the worker that claimed its close stored
        it, or None when this worker holds the claim (or the holder stored nothing within
        ``CLOSE_WAIT`` seconds: a worker that died mid-close; then this one closes it too,
        to the same plan). One worker fits the screening's model per close, not every
        worker that finds the generation complete at once."""
        storage, study_id = study._storage, study._study_id
        # A trial's number is its owner id; any other caller (children_left, which passes
        # the number the next trial will have) is an owner of its own.
        own = 0 <= own_number < len(trials) and trials[own_number].number == own_number
        owner = own_number if own else -1 - secrets.randbelow(2**62)
        holder = claim(storage, study_id, close_key(generation), owner)
        if holder == owner:
            return None
        known = 0 <= holder < len(trials) and trials[holder].number == holder
        if known and trials[holder].state.is_finished():
            return None  # its trial ended without storing the plan: nobody else will
        key = plan_key(generation + 1)
        deadline = time.monotonic() + CLOSE_WAIT
        delay = 0.005
        while time.monotonic() < deadline:
            time.sleep(delay)
            stored = study_system_attrs(storage, study_id, (key,)).get(key)
            if stored is not None:
                return stored
            delay = min(2 * delay, 0.2)
        return None

    def _closed_members(self, study: Study, generation: int) -> list[list[int]]:
        """The members of generations ``0 .. generation - 1`` (those whose summary exists)."""
        if any(g not in self.members_of for g in range(generation)):
            attrs = study._storage.get_study_user_attrs(study._study_id)
            self.members_of.update(closed_members(attrs))
        return [self.members_of[g] for g in range(generation) if g in self.members_of]

    def child_at(self, study: Study, index: int, trials: list[FrozenTrial]) -> PlannedChild | None:
        """Child ``index`` of the open generation (None: a random individual of generation
        0): a planned child, then the plan's reserve of screened candidates, then children
        bred from the plan's parents with streams of their own."""
        plan = self.plans[self.open_generation]
        if plan.generation == 0:
            return None
        if index < len(plan.children):
            return plan.children[index]
        if index - len(plan.children) < len(plan.reserve):
            return plan.reserve[index - len(plan.children)]
        if self.parents is None or self.parents[0] != plan.generation:
            # Encoded once per plan: a worker may pass over many extra children in a row.
            lookup = trial_lookup(study._storage, study._study_id, trials)
            self.parents = (plan.generation, parents_of(plan, lookup))
        return extra_child(plan, index, self.parents[1], settings=self.settings, seed=self.seed)


def closed_members(user_attrs: dict[str, Any]) -> dict[int, list[int]]:
    """The ``members`` of every generation summary the study holds, by generation."""
    found = {}
    for key, value in user_attrs.items():
        suffix = key[len(SUMMARY_PREFIX) :]
        if key.startswith(SUMMARY_PREFIX) and suffix.isdigit() and isinstance(value, dict):
            found[int(suffix)] = [int(n) for n in value.get("members", [])]
    return found


def _identity(trial: FrozenTrial) -> tuple[int, Any]:
    return trial._trial_id, trial.datetime_start


def newest_plan(attrs: dict[str, Any], float_bits: int) -> Plan | None:
    stored = {
        int(key[len(PLAN_KEY_PREFIX) :]): value
        for key, value in attrs.items()
        if key.startswith(PLAN_KEY_PREFIX) and value != COMPACTED
    }
    if not stored:
        return None
    return Plan.from_json(stored[max(stored)], float_bits)


class StudyStates:
    """The :class:`StudyState` of every study this process works on, keyed safely.

    Keyed by the storage *object* (weakly: its entries go when it is collected, so a new
    storage at a freed address never finds them) and the study id; :meth:`get` also checks
    the state against the trials just read, so a study deleted and created again under the
    same id starts afresh. At most ``MAX_STUDIES_PER_STORAGE`` studies per storage are kept.
    """

    def __init__(self) -> None:
        self._by_storage: weakref.WeakKeyDictionary[BaseStorage, OrderedDict[int, StudyState]] = (
            weakref.WeakKeyDictionary()
        )

    def get(
        self,
        study: Study,
        trials: list[FrozenTrial],
        load: Callable[[], StudyState],
    ) -> StudyState:
        studies = self._by_storage.get(study._storage)
        if studies is None:
            studies = self._by_storage.setdefault(study._storage, OrderedDict())
        state = studies.get(study._study_id)
        if state is not None and not state.holds(study, trials):
            state = None
        if state is None:
            state = load()
            studies[study._study_id] = state
            while len(studies) > MAX_STUDIES_PER_STORAGE:
                studies.popitem(last=False)
        studies.move_to_end(study._study_id)
        return state

    def __len__(self) -> int:
        return sum(len(studies) for studies in self._by_storage.values())
