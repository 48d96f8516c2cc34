"""A study whose heads train in batches: ``ask()`` a batch, train it as one program, ``tell()``
each trial (``optimize_in_batches``, the CLI's ``--heads-per-program``).

Trials are the same as :class:`HeadObjective`'s: the same genes suggested, the same rows
and seeds (:class:`~optuna_hamming.vision.fitness.FitnessData` and ``trial_seed``:
``seed + trial.number``; fold ``k``: ``(seed + trial.number) * MAX_FOLDS + k``), the same
value and user attributes (:mod:`.trial_attrs`), and per-epoch validation macro F1 reported
per trial. Every trial of a batch is RUNNING while the batch trains and beats its heartbeat
(RDB storages), so a worker killed mid-batch leaves trials that the next worker fails and
retries, as with ``study.optimize``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import optuna
from optuna.storages._heartbeat import get_heartbeat_thread, is_heartbeat_enabled
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming.data import FeatureSet, Splits
from optuna_hamming.paper import suggest_paper_genome
from optuna_hamming.vision.batched import HeadTask, train_heads_together
from optuna_hamming.vision.fitness import FitnessData, trial_seed
from optuna_hamming.vision.heads import HeadGenome
from optuna_hamming.vision.training import check_training, free_keras_memory
from optuna_hamming.vision.trial_attrs import cv_attrs, holdout_attrs

Callback = Callable[[optuna.Study, FrozenTrial], None]


@runtime_checkable
class GenerationalSampler(Protocol):
    """A sampler whose generation closes only when all its children have finished, and
    that tells how many children its open generation has left (``HammingGASampler``)."""

    def children_left(self, study: optuna.Study) -> int: ...


def optimize_in_batches(
    study: optuna.Study,
    features: FeatureSet,
    splits: Splits,
    *,
    heads_per_program: int,
    n_trials: int,
    max_epochs: int = 200,
    patience: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    fitness: str = "holdout",
    folds: int = 5,
    callbacks: Sequence[Callback] = (),
    should_stop: Callable[[], bool] | None = None,
    catch: tuple[type[Exception], ...] = (),
) -> int:
    """Run up to ``n_trials`` trials, ``heads_per_program`` at a time (with ``fitness="cv"``
    each trial's folds train in the program too); returns the trials told.

    ``callbacks`` run after each trial is told, as ``study.optimize``'s; ``should_stop`` is
    asked after each batch. An exception of a type in ``catch`` fails the batch's trials and
    the study goes on; any other fails them and is raised. With a
    :class:`GenerationalSampler` (``HammingGASampler``) a batch is at most the children its
    open generation has left (a generation of the paper's GA closes only when all its
    children have finished), so none trains an extra child."""
    if heads_per_program < 1:
        raise ValueError(f"`heads_per_program` must be >= 1, got {heads_per_program}")
    # What HeadObjective checks and trains on, so that the trials are the same as its.
    check_training(max_epochs, patience)
    data = FitnessData.of(features, splits, fitness=fitness, folds=folds, seed=seed)
    plan = _Batches(
        data, max_epochs=max_epochs, patience=patience, batch_size=batch_size, seed=seed
    )
    told = 0
    while told < n_trials and not (should_stop is not None and should_stop()):
        if is_heartbeat_enabled(study._storage):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
        size = min(heads_per_program, n_trials - told)
        if isinstance(study.sampler, GenerationalSampler):
            # A generation's children, never more: extra children would not join it.
            size = min(size, max(1, study.sampler.children_left(study)))
        with warnings.catch_warnings():
            # "Heartbeat ... supposed to be used with Study.optimize": the batch beats below.
            warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
            trials = [study.ask() for _ in range(size)]
        with contextlib.ExitStack() as beating:
            for trial in trials:
                heartbeat: Any = get_heartbeat_thread(trial._trial_id, study._storage)
                beating.enter_context(heartbeat)  # (a context manager, not typed as one)
            try:
                outcomes = plan.train(trials)
            except Exception as error:
                for trial in trials:
                    trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:2000])
                    frozen = study.tell(trial, state=TrialState.FAIL)
                    for callback in callbacks:
                        callback(study, frozen)
                told += len(trials)
                if not isinstance(error, catch):
                    raise
                continue
            finally:
                free_keras_memory()
        for trial, (value, attrs, pruned) in zip(trials, outcomes, strict=True):
            for key, attr in attrs.items():
                trial.set_user_attr(key, attr)
            # As HeadObjective raising TrialPruned: PRUNED, with its last reported value.
            frozen = (
                study.tell(trial, state=TrialState.PRUNED) if pruned else study.tell(trial, value)
            )
            for callback in callbacks:
                callback(study, frozen)
        told += len(trials)
    return told


class _Batches:
    """Trains batches of trials on ``data`` (the holdout split, or its CV folds) with the
    seeds and scoring :class:`HeadObjective` gives them."""

    def __init__(
        self, data: FitnessData, *, max_epochs: int, patience: int, batch_size: int, seed: int
    ) -> None:
        self.data, self.seed = data, seed
        self.max_epochs, self.patience, self.batch_size = max_epochs, patience, batch_size
        self.splits = data.data_splits()

    def train(self, trials: list[optuna.Trial]) -> list[tuple[float, dict[str, Any], bool]]:
        """Each trial's value, user attributes and whether it was pruned."""
        genomes = [HeadGenome.from_params(suggest_paper_genome(t)) for t in trials]
        cv = self.data.cv
        folds = len(self.splits)
        tasks = [
            HeadTask(g, trial_seed(self.seed, t.number, k if cv is not None else None), k)
            for t, g in zip(trials, genomes, strict=True)
            for k in range(folds)
        ]

        def report(task: int, epoch: int, value: float) -> bool:
            if cv is not None:
                return False  # a CV trial reports its running mean fold by fold, below
            trials[task].report(value, epoch)
            return trials[task].should_prune()

        outcomes = train_heads_together(
            tasks, self.splits, n_classes=self.data.n_classes, max_epochs=self.max_epochs,
            patience=self.patience, batch_size=self.batch_size, on_epoch=report,
        )  # fmt: skip
        if cv is None:
            return [
                (o.result.scores.macro_f1, holdout_attrs(o.result), o.result.pruned)
                for o in outcomes
            ]
        scored = []
        for i, trial in enumerate(trials):
            mine = outcomes[i * folds : (i + 1) * folds]
            fold_f1 = [o.result.scores.macro_f1 for o in mine]
            for k in range(folds):
                trial.report(float(np.mean(fold_f1[: k + 1])), k)
            probabilities = cv.out_of_fold([o.probabilities for o in mine], self.data.n_classes)
            attrs = cv_attrs([o.result for o in mine], probabilities, cv.y)
            scored.append((float(np.mean(fold_f1)), attrs, False))
        return scored
