"""Running the study: trials one by one (``study.optimize``, threads with ``--n-jobs``) or in
batches trained as one JAX program (``--heads-per-program``), with the progress line, the
stop at the target generation, the MLflow runs and the dashboard notes."""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.errors import UserError
from optuna_hamming.data import FeatureSet
from optuna_hamming.sampler.attributes import GENERATION_ATTR, ORIGIN_ATTR


class _Progress:
    """One line per finished trial, and the stop at the target generation (``stops`` the
    study inside ``optimize``; batches ask ``reached`` instead)."""

    def __init__(
        self, sampler: HammingGASampler, tracker: Any, target: int, stops: bool = True
    ) -> None:
        self.sampler, self.tracker, self.target = sampler, tracker, target
        self.stops = stops
        self.lock = threading.Lock()
        self.started = time.perf_counter()
        self.closed = 0

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        with self.lock:
            self.closed = self.sampler.close_finished_generations(study)
            self.tracker.log_generations(study)
            try:
                best = f"{study.best_value:.3f}"
            except ValueError:
                best = "-"
            value = f"{trial.value:.3f}" if trial.value is not None else trial.state.name
            params = trial.params
            genome = (
                f"{params.get('neurons')}x{params.get('layers')} {params.get('activation')} "
                f"{params.get('optimizer')}"
            )
            print(
                f"trial {trial.number:>4}  gen {trial.user_attrs.get(GENERATION_ATTR, '?'):>2}  "
                f"{trial.user_attrs.get(ORIGIN_ATTR, ''):<15} {genome:<28} macro F1 {value:>6}  "
                f"best {best}  [{self.closed}/{self.target} generations, "
                f"{time.perf_counter() - self.started:.0f} s]",
                flush=True,
            )
            if self.stops and self.reached():
                study.stop()

    def reached(self) -> bool:
        return self.closed >= self.target


def check_batched(args: argparse.Namespace) -> None:
    import keras

    if keras.backend.backend() != "jax":
        raise UserError(
            f"--heads-per-program {args.heads_per_program} trains heads as one JAX program, "
            f"and Keras runs on {keras.backend.backend()}: set KERAS_BACKEND=jax (pip install "
            "jax), or leave --heads-per-program at 1"
        )
    if args.n_jobs > 1:
        raise UserError(
            "--heads-per-program and --n-jobs both run trials side by side: pass one of them "
            "(start more processes on the same --storage for more workers)"
        )


def optimize_one_by_one(
    study: optuna.Study,
    sampler: HammingGASampler,
    tracker: Any,
    objective: Any,
    args: argparse.Namespace,
) -> None:
    from optuna_hamming.tracking.dashboard_notes import DashboardNotes

    target = args.generations
    if _reached_already(study, sampler, tracker, target):
        return
    print(
        f"searching: population {args.population}, {target} generations, {args.n_jobs} job(s)",
        flush=True,
    )
    # Every trial failing would never close a generation: bound the trials.
    budget = args.population * (target + 1) * 3
    study.optimize(
        objective,
        n_trials=budget,
        n_jobs=args.n_jobs,
        # Notes after the progress line: it closes the generations the study note shows.
        callbacks=[_Progress(sampler, tracker, target), DashboardNotes(tracker.run_url)],
        catch=(Exception,),
        gc_after_trial=False,
    )
    _check_reached(study, sampler, target)


def optimize_in_batches(
    study: optuna.Study,
    sampler: HammingGASampler,
    tracker: Any,
    features: FeatureSet,
    splits: Any,
    args: argparse.Namespace,
) -> None:
    from optuna_hamming.tracking.dashboard_notes import DashboardNotes
    from optuna_hamming.vision import batched_study

    target = args.generations
    if _reached_already(study, sampler, tracker, target):
        return
    print(
        f"searching: population {args.population}, {target} generations, "
        f"{args.heads_per_program} heads per program",
        flush=True,
    )
    progress = _Progress(sampler, tracker, target, stops=False)
    batched_study.optimize_in_batches(
        study,
        features,
        splits,
        heads_per_program=args.heads_per_program,
        n_trials=args.population * (target + 1) * 3,  # as one by one: failures are bounded
        max_epochs=args.max_epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        seed=args.seed,
        fitness=args.fitness,
        folds=args.folds,
        # The tracker logs each told trial's run; then the progress line and the notes.
        callbacks=[tracker, progress, DashboardNotes(tracker.run_url, tracker.logged_runs)],
        should_stop=progress.reached,
        catch=(Exception,),
    )
    _check_reached(study, sampler, target)


def _reached_already(
    study: optuna.Study, sampler: HammingGASampler, tracker: Any, target: int
) -> bool:
    closed = sampler.close_finished_generations(study)
    tracker.log_generations(study)
    if closed >= target:
        print(f"the study already has {closed} closed generations (asked for {target})")
    return closed >= target


def _check_reached(study: optuna.Study, sampler: HammingGASampler, target: int) -> None:
    if sampler.close_finished_generations(study) < target:
        failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        raise UserError(
            f"{len(failed)} trials failed and the study did not reach {target} generations; "
            "the MLflow runs of the failed trials hold their errors (tag 'error')"
        )
