"""The Optuna objective that trains a head per trial (layer 3).

Fitness is macro F1 on the validation split (paper, Eq. 1), or with ``fitness="cv"`` the mean
macro F1 over stratified K folds of train + validation (:mod:`.fitness`). On the holdout each
epoch's validation macro F1 is reported with ``trial.report``; under CV the running mean over
the folds done is reported after each fold (step = fold), so pruners compare trials on the
same folds and can stop a poor head after its first fold. Weighted F1, accuracy, epochs
trained, the best epoch and training seconds are stored as user attributes
(:mod:`.trial_attrs`). Heads are fitted by :func:`optuna_hamming.vision.training.train_head`.
Each trial frees its model (``keras.backend.clear_session`` and ``gc.collect``), so memory
stays flat over long studies.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import numpy.typing as npt
import optuna

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.paper import suggest_paper_genome
from optuna_hamming.vision.fitness import FOLD_MACRO_F1_ATTR, FitnessData, trial_seed
from optuna_hamming.vision.heads import HeadGenome
from optuna_hamming.vision.scoring import predict_image_probabilities
from optuna_hamming.vision.training import (
    DataSplit,
    TrainingResult,
    check_training,
    free_keras_memory,
    train_head,
)
from optuna_hamming.vision.trial_attrs import cv_attrs, holdout_attrs


class _TrainingHeads:
    """Counts heads training in this process. ``clear_session`` resets Keras' global state,
    which would pull it from under a head another thread (``n_jobs > 1``) is building, so
    only the last trial to finish clears it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0

    def __enter__(self) -> None:
        with self._lock:
            self._active += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                free_keras_memory()


_TRAINING = _TrainingHeads()


class HeadObjective:
    """Optuna objective over the paper's four genes; returns validation macro F1.

    ``features`` and ``splits`` come from :func:`optuna_hamming.vision.features_for` and
    :func:`optuna_hamming.data.stratified_splits`. The seed of each trial's training is
    ``seed + trial.number`` (fold ``k`` of a CV trial: ``(seed + trial.number) * 100 + k``),
    so a trial can be retrained exactly. ``fitness="cv"`` scores by ``folds``-fold CV on
    train + validation, folds drawn from ``seed``; it stores the per-fold scores and the
    out-of-fold probabilities that ``--final ensemble`` chooses members on. Building it
    changes no global state; on JAX, call
    :func:`optuna_hamming.vision.use_jax_compilation_cache` once first (the CLI does) so that
    heads of an architecture met before skip compilation.
    """

    def __init__(
        self,
        features: FeatureSet,
        splits: Splits,
        *,
        max_epochs: int = 200,
        patience: int = 5,
        batch_size: int = 32,
        seed: int = 0,
        jit_compile: bool | str = "auto",
        fitness: str = "holdout",
        folds: int = 5,
    ) -> None:
        check_training(max_epochs, patience)
        self.data = FitnessData.of(features, splits, fitness=fitness, folds=folds, seed=seed)
        self.features, self.splits = features, splits
        self.max_epochs, self.patience, self.batch_size, self.seed = (
            max_epochs,
            patience,
            batch_size,
            seed,
        )
        holdout = self.data.holdout
        self.X_train, self.y_train = holdout.X_train, holdout.y_train
        self.X_val, self.y_val = holdout.X_val, holdout.y_val
        self.n_classes = self.data.n_classes
        self.jit_compile = jit_compile
        self.fitness, self.folds = fitness, folds
        if self.data.cv is not None:
            self.X_fit, self.y_fit = self.data.cv.X, self.data.cv.y
            self.fold_positions = self.data.cv.positions

    def trial_seed(self, number: int, fold: int | None = None) -> int:
        """The training seed of trial ``number`` (of its fold ``fold`` under CV)."""
        return trial_seed(self.seed, number, fold)

    def __call__(self, trial: optuna.Trial) -> float:
        genome = HeadGenome.from_params(suggest_paper_genome(trial))
        if self.data.cv is not None:
            return self._cross_validated(trial, genome)
        with _TRAINING:
            model, result = self._train(
                genome, self.data.holdout, self.trial_seed(trial.number), trial
            )
            del model
        for key, value in holdout_attrs(result).items():
            trial.set_user_attr(key, value)
        if result.pruned:
            raise optuna.TrialPruned()
        return result.scores.macro_f1

    def _train(
        self, genome: HeadGenome, split: DataSplit, seed: int, trial: optuna.Trial | None
    ) -> tuple[keras.Model, TrainingResult]:
        return train_head(
            genome,
            split.X_train,
            split.y_train,
            split.X_val,
            split.y_val,
            n_classes=self.n_classes,
            max_epochs=self.max_epochs,
            patience=self.patience,
            batch_size=self.batch_size,
            seed=seed,
            trial=trial,
            jit_compile=self.jit_compile,
            n_views=split.n_views,
        )

    def _cross_validated(self, trial: optuna.Trial, genome: HeadGenome) -> float:
        cv = self.data.cv
        assert cv is not None
        held_out: list[npt.NDArray[np.float32]] = []
        fold_f1: list[float] = []
        results: list[TrainingResult] = []
        for k in range(self.folds):
            split = cv.split(k)
            with _TRAINING:
                model, result = self._train(genome, split, self.trial_seed(trial.number, k), None)
                held_out.append(predict_image_probabilities(model, split.X_val, split.n_views))
                del model
            fold_f1.append(result.scores.macro_f1)
            results.append(result)
            trial.report(float(np.mean(fold_f1)), k)
            if k + 1 < self.folds and trial.should_prune():
                trial.set_user_attr(FOLD_MACRO_F1_ATTR, fold_f1)
                raise optuna.TrialPruned()
        probabilities = cv.out_of_fold(held_out, self.n_classes)
        for key, value in cv_attrs(results, probabilities, cv.y).items():
            trial.set_user_attr(key, value)
        return float(np.mean(fold_f1))
