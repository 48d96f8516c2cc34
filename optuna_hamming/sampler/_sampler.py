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

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming import ga
from optuna_hamming.ga.design import latin_choice, latin_slice
from optuna_hamming.ga.surrogate import SurrogateScreening
from optuna_hamming.sampler._claims import (
    Ticket,
    claim_child,
    describe,
    latin_design,
    retried_child,
)
from optuna_hamming.sampler._state import StudyState, StudyStates
from optuna_hamming.sampler.archive import read_archive
from optuna_hamming.sampler.attributes import (
    CHILD_KEY,
    GENE_ATTR,
    SETTINGS_KEY,
    GenerationSummary,
    genome_claim_key,
    read_generations,
)
from optuna_hamming.sampler.child_generation import ChildGenerationStrategy
from optuna_hamming.sampler.search_space import GenomeSpace, contains, gene_for
from optuna_hamming.sampler.settings import MAX_SEED, Settings, checked_settings
from optuna_hamming.storages import set_trial_attrs, study_system_attrs
from optuna_hamming.storages.claims import claim


class HammingGASampler(BaseSampler):
    """Genetic algorithm with Hamming-distance-gated selection (the paper's Algorithm 1).

    The sampler is a thin shell: selection (steps 1-4) and the making of children (step 5)
    are strategy objects of :mod:`optuna_hamming.ga`, built from the paper's rates unless
    given, and all state lives in the study's storage.

    Example:

        .. code-block:: python

            import optuna
            from optuna_hamming import HammingGASampler


            def objective(trial: optuna.Trial) -> float:
                neurons = trial.suggest_categorical("neurons", [32, 64, 128, 256, 512])
                activation = trial.suggest_categorical("activation", ["relu", "tanh"])
                return -abs(neurons - 128) / 128 + (activation == "relu")


            sampler = HammingGASampler(population_size=10, seed=0)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(objective, n_trials=60)
            HammingGASampler.generations(study)[0]["significant"]

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
        hamming_gate: Deprecated (warns when False): ``selection=UngatedSelection(retain,
            select)`` says the same.
        forced_mutation: Deprecated (warns when False): ``mutation=PlainMutation(mutate)``
            says the same.
        selection: A selection strategy (steps 1-4); default
            ``HammingGateSelection(retain, select)``. Pass its rates to it, not here.
        mutation: A strategy that makes one child from two parents (step 5); default
            ``ForcedMutation(mutate)``. Pass its rate to it, not here.
        screening: The accelerated mode, off by default (the paper):
            :class:`~optuna_hamming.SurrogateScreening` breeds many candidate children with
            the strategies above and trains only those a model fitted on the closed
            generations' genomes ranks best (and a share at random), ``children`` per
            generation, after a generation 0 of ``initial`` random genomes. Trials it chose
            carry the user attribute ``ga.screened`` (what the model predicted), and each
            generation summary a ``screening`` entry. :func:`optuna_hamming.recommended_sampler`
            returns the product's recommended configuration.
        child_generation: A :class:`~optuna_hamming.sampler.ChildGenerationStrategy` of your
            own (how each generation's children are made); default the paper's
            :class:`~optuna_hamming.sampler.PaperGeneration`, or the accelerated mode's when
            ``screening`` is given (passing both is refused).

    A study keeps the settings it was started with: the first sampler stores them with the
    study, and a later one whose settings differ runs on with the stored ones and logs a
    warning naming each difference (:meth:`settings_for`).

    Citation: "Automated neural network construction with transfer learning", the
    Hamming-distance genetic algorithm of ``../shared/seeds/`` (Algorithm 1, Table I).
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
        selection: ga.SelectionStrategy | None = None,
        mutation: ga.MutationStrategy | None = None,
        screening: SurrogateScreening | None = None,
        child_generation: ChildGenerationStrategy | None = None,
    ) -> None:
        self._settings, self._seed = checked_settings(
            {
                "population_size": population_size,
                "retain": retain,
                "select": select,
                "mutate": mutate,
                "crossover_split": crossover_split,
                "float_bits": float_bits,
                "skip_duplicates": skip_duplicates,
                "max_redraws": max_redraws,
                "seed": seed,
                "hamming_gate": hamming_gate,
                "forced_mutation": forced_mutation,
                "selection": selection,
                "mutation": mutation,
                "screening": screening,
                "child_generation": child_generation,
            }
        )
        self._rng = np.random.default_rng(self._seed)
        self._lock = threading.Lock()
        self._states = StudyStates()
        self._tickets: dict[int, Ticket] = {}

    # -- settings ------------------------------------------------------------------------

    @property
    def population_size(self) -> int:
        return self._settings.population_size

    @property
    def settings(self) -> Settings:
        """The settings this sampler was configured with (see :meth:`settings_for`)."""
        return self._settings

    def settings_for(self, study: Study) -> Settings:
        """The settings this sampler runs ``study`` with.

        A study keeps the settings it was started with: the first sampler that works on it
        stores its configuration with the study, and a later one whose configuration differs
        continues with the stored settings and logs a warning naming each difference
        (:class:`~optuna_hamming.sampler.SettingsMismatchError` where they cannot be rebuilt,
        a strategy class of the user's own). Calling this before ``optimize`` stores them,
        and shows them, without starting a trial.
        """
        with self._lock:
            trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
            return self._state_of(study, trials).settings

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"], state["_states"]
        state["_tickets"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._states = StudyStates()

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
        _refuse_multi_objective(study)
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        _refuse_multi_objective(study)
        ticket = self._tickets.get(trial._trial_id)
        if ticket is not None and param_name in ticket.values:
            value = ticket.values[param_name]
            if contains(param_distribution, value):
                return value
        rng = ticket.rng if ticket is not None else self._rng
        float_bits = ticket.float_bits if ticket is not None else self._settings.float_bits
        gene = gene_for(param_distribution, float_bits)
        if ticket is not None and ticket.latin is not None:
            index, n_slices, seed = ticket.latin
            position = latin_slice(seed, param_name, index, n_slices)
            return gene.value_at(latin_choice(gene.n_choices, position, n_slices, rng))
        return gene.value_at(int(rng.integers(gene.n_choices)))

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        if len(study.directions) > 1:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            _refuse_multi_objective(study)
        storage = study._storage
        enqueued = bool(trial.params) or "fixed_params" in trial.system_attrs
        with self._lock:
            try:
                trials = storage.get_all_trials(study._study_id, deepcopy=False)
                state = self._state_of(study, trials)
                settings = state.settings
                used, ahead, _ = state.advance(study, trials, own_number=trial.number)
                generation = state.open_generation
                plan = state.plans[generation]
                retried = retried_child(trial, generation)
                if retried is not None:
                    # A retry of a child whose worker died (Optuna's heartbeat callback copies
                    # the trial) takes the dead trial's claim while its generation is open.
                    index, child = retried, state.child_at(study, retried, trials)
                else:
                    # An enqueued trial trains its own values: it claims no planned genome.
                    index, child = claim_child(
                        study, trial.number, state, trials, used, ahead, genomes=not enqueued
                    )
                ticket, user = describe(
                    trial,
                    plan,
                    child,
                    seed=state.seed,
                    float_bits=settings.float_bits,
                    enqueued=enqueued,
                    retried=retried is not None,
                )
                if latin_design(
                    settings, plan, child, index, enqueued=enqueued, retried=retried is not None
                ):
                    ticket.latin = (index, plan.population_size, state.seed)
                ticket.claim_genome = settings.skip_duplicates
                set_trial_attrs(
                    storage, trial._trial_id, system={CHILD_KEY: [generation, index]}, user=user
                )
            except BaseException:
                # Never left RUNNING without a child: no worker would ever finish it (a
                # SettingsMismatchError included: the trial never started its objective).
                with contextlib.suppress(Exception):
                    storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
                raise
            self._tickets[trial._trial_id] = ticket

    def children_left(self, study: Study) -> int:
        """How many children of the open generation no trial holds yet (after closing every
        generation that can close): asking this many trials at once trains the generation's
        own children, where more would train extra ones that do not join it."""
        with self._lock:
            trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
            state = self._state_of(study, trials)
            used, ahead, _ = state.advance(study, trials, own_number=len(trials))
            return max(0, state.plans[state.open_generation].needed - len(used) - ahead)

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
            if ticket.claim_genome and state != TrialState.FAIL:
                claim(study._storage, study._study_id, genome_claim_key(gene), trial.number)

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
            space = GenomeSpace.from_trials([trial], ticket.float_bits)
        return space.bitstring(space.encode(trial.params))

    # -- reading the GA state ------------------------------------------------------------

    @staticmethod
    def archive(study: Study) -> dict[str, float]:
        """Best fitness per genome bit string over all finished trials (the paper's archive)."""
        return read_archive(study)

    @staticmethod
    def stored_settings(study: Study) -> dict[str, Any] | None:
        """The sampler settings ``study`` keeps, as stored (None before any sampler ran it)."""
        stored = study_system_attrs(study._storage, study._study_id, (SETTINGS_KEY,))
        value = stored.get(SETTINGS_KEY)
        return dict(value) if isinstance(value, dict) else None

    @staticmethod
    def generations(study: Study) -> dict[int, GenerationSummary]:
        """The summary of every closed generation, by generation number."""
        return read_generations(study)

    def close_finished_generations(self, study: Study) -> int:
        """Close every generation whose members have all finished and return how many
        generations are closed. A generation otherwise closes when the next trial starts;
        call this after ``optimize`` to stop exactly at a generation boundary."""
        with self._lock:
            trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
            self._state_of(study, trials).advance(study, trials, own_number=-1)
        return len(read_generations(study))

    def _state_of(self, study: Study, trials: list[FrozenTrial]) -> StudyState:
        return self._states.get(
            study,
            trials,
            lambda: StudyState.load(study, self._settings, self._new_seed),
        )

    def _new_seed(self) -> int:
        return self._seed if self._seed is not None else int(self._rng.integers(MAX_SEED))


def _refuse_multi_objective(study: Study) -> None:
    if len(study.directions) > 1:
        raise ValueError(
            "HammingGASampler optimises one objective; this study has "
            f"{len(study.directions)}. Use optuna.samplers.NSGAIISampler for "
            "multi-objective studies, or return a single value."
        )
