"""The Optuna objective that trains a head per trial (layer 3).

Fitness is macro F1 on the validation split (paper, Eq. 1), or with ``fitness="cv"`` the mean
macro F1 over stratified K folds of train + validation (:mod:`.fitness`). On the holdout each
epoch's validation macro F1 is reported with ``trial.report``; under CV the running mean over
the folds done is reported after each fold (step = fold), so pruners compare trials on the
same folds and can stop a poor head after its first fold. Weighted F1, accuracy, epochs
trained, the best epoch and training seconds are stored as user attributes. Each trial frees
its model (``keras.backend.clear_session`` and ``gc.collect``), so memory stays flat over
long studies.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import optuna
from sklearn.metrics import accuracy_score, f1_score

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.paper import suggest_paper_genome
from optuna_hamming.vision.fitness import (
    FOLD_MACRO_F1_ATTR,
    MAX_FOLDS,
    check_fitness,
    cv_folds,
)
from optuna_hamming.vision.heads import SEED_MODULUS, HeadGenome, build_head


@dataclass
class HeadScores:
    macro_f1: float
    weighted_f1: float
    accuracy: float


def score(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> HeadScores:
    return HeadScores(
        float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        float(accuracy_score(y_true, y_pred)),
    )


def predict_probabilities(
    model: keras.Model, X: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    # predict() loops and is several times slower on arrays this small. JAX and torch run
    # the compiled predict step; TensorFlow would trace a new tf.function for every head
    # (and warn about retracing each time), so it calls the model eagerly.
    if keras.backend.backend() == "tensorflow":
        probabilities = model(X, training=False)
    else:
        probabilities = model.predict_on_batch(X)
    return np.asarray(keras.ops.convert_to_numpy(probabilities), dtype=np.float32)


def predict_classes(model: keras.Model, X: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    classes: npt.NDArray[np.int64] = np.argmax(predict_probabilities(model, X), axis=-1)
    return classes.astype(np.int64)


class ShuffledBatches(keras.utils.PyDataset):
    """Mini-batches in an order drawn afresh each epoch from a Generator of its own.

    Keras shuffles arrays with the global NumPy (or TensorFlow) random state, and a
    ``PyDataset``'s batches with Python's ``random``, which would make training depend on, and
    disturb, whatever else draws from them (other threads among them): fit with
    ``shuffle=False``. ``benchmarks/shuffled_batches.py`` (2 cores): 0.94x the time of
    ``fit(X, y, shuffle=True)`` on TensorFlow, 0.99x on JAX.
    """

    def __init__(
        self,
        X: npt.NDArray[np.float32],
        y: npt.NDArray[np.int64],
        batch_size: int,
        seed: int | None,
    ) -> None:
        super().__init__()
        self.X, self.y, self.batch_size = X, y, batch_size
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(y))

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.X[chosen], self.y[chosen]

    def on_epoch_end(self) -> None:
        self._order = self._rng.permutation(len(self.y))


@dataclass
class TrainingResult:
    scores: HeadScores
    epochs: int
    best_epoch: int
    seconds: float
    curves: dict[str, list[float]] = field(default_factory=dict)
    pruned: bool = False


class _EpochReporter(keras.callbacks.Callback):
    """Validation macro F1 after every epoch, reported to the trial (and pruning on request)."""

    def __init__(
        self,
        X_val: npt.NDArray[np.float32],
        y_val: npt.NDArray[np.int64],
        trial: optuna.Trial | None,
    ) -> None:
        super().__init__()
        self.X_val, self.y_val, self.trial = X_val, y_val, trial
        self.f1: list[float] = []
        self.pruned = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = score(self.y_val, predict_classes(self.model, self.X_val)).macro_f1
        self.f1.append(value)
        if self.trial is not None:
            self.trial.report(value, epoch)
            if self.trial.should_prune():
                self.pruned = True
                self.model.stop_training = True


def train_head(
    genome: HeadGenome,
    X_train: npt.NDArray[np.float32],
    y_train: npt.NDArray[np.int64],
    X_val: npt.NDArray[np.float32],
    y_val: npt.NDArray[np.int64],
    *,
    n_classes: int,
    max_epochs: int = 200,
    patience: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    trial: optuna.Trial | None = None,
    jit_compile: bool | str = "auto",
) -> tuple[keras.Model, TrainingResult]:
    """Fit a head with early stopping on validation loss (best weights restored)."""
    model = build_head(
        genome,
        n_features=X_train.shape[1],
        n_classes=n_classes,
        seed=seed,
        jit_compile=jit_compile,
    )
    reporter = _EpochReporter(X_val, y_val, trial)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    start = time.perf_counter()
    history = model.fit(
        ShuffledBatches(X_train, y_train, batch_size, seed),
        shuffle=False,  # the batches shuffle themselves (Keras would use Python's `random`)
        validation_data=(X_val, y_val),
        epochs=max_epochs,
        callbacks=[stopper, reporter],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    val_loss = [float(v) for v in history.history["val_loss"]]
    result = TrainingResult(
        scores=score(y_val, predict_classes(model, X_val)),
        epochs=len(val_loss),
        best_epoch=int(np.nanargmin(val_loss)) + 1 if val_loss else 0,
        seconds=seconds,
        curves={
            "loss": [float(v) for v in history.history["loss"]],
            "val_loss": val_loss,
            "val_macro_f1": reporter.f1,
        },
        pruned=reporter.pruned,
    )
    return model, result


def free_keras_memory() -> None:
    """Drop Keras' global state and collect garbage (models of finished trials)."""
    keras.backend.clear_session()
    gc.collect()


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
        if max_epochs < 1:
            raise ValueError(f"`max_epochs` must be >= 1, got {max_epochs}; the paper uses 200")
        if patience < 0:
            raise ValueError(f"`patience` must be >= 0, got {patience}; the paper uses 5")
        check_fitness(fitness, folds)
        self.features, self.splits = features, splits
        self.max_epochs, self.patience, self.batch_size, self.seed = (
            max_epochs,
            patience,
            batch_size,
            seed,
        )
        X, y = features.X, features.y
        self.X_train, self.y_train = X[splits.train], y[splits.train]
        self.X_val, self.y_val = X[splits.validation], y[splits.validation]
        self.n_classes = len(features.class_names)
        self.jit_compile = jit_compile
        self.fitness, self.folds = fitness, folds
        if fitness == "cv":
            # Positions into train + validation (sorted indices), the same for every trial.
            self.X_fit, self.y_fit = X[splits.train_and_validation], y[splits.train_and_validation]
            self.fold_positions = cv_folds(self.y_fit, folds, seed)

    def trial_seed(self, number: int, fold: int | None = None) -> int:
        """The training seed of trial ``number`` (of its fold ``fold`` under CV)."""
        if fold is None:
            return self.seed + number
        return ((self.seed + number) * MAX_FOLDS + fold) % SEED_MODULUS

    def __call__(self, trial: optuna.Trial) -> float:
        from optuna_hamming.vision.trial_attrs import holdout_attrs  # (it imports this module)

        genome = HeadGenome.from_params(suggest_paper_genome(trial))
        if self.fitness == "cv":
            return self._cross_validated(trial, genome)
        with _TRAINING:
            model, result = self._train(
                genome,
                self.X_train,
                self.y_train,
                self.X_val,
                self.y_val,
                self.trial_seed(trial.number),
                trial,
            )
            del model
        for key, value in holdout_attrs(result).items():
            trial.set_user_attr(key, value)
        if result.pruned:
            raise optuna.TrialPruned()
        return result.scores.macro_f1

    def _train(
        self,
        genome: HeadGenome,
        X_train: npt.NDArray[np.float32],
        y_train: npt.NDArray[np.int64],
        X_val: npt.NDArray[np.float32],
        y_val: npt.NDArray[np.int64],
        seed: int,
        trial: optuna.Trial | None,
    ) -> tuple[keras.Model, TrainingResult]:
        return train_head(
            genome,
            X_train,
            y_train,
            X_val,
            y_val,
            n_classes=self.n_classes,
            max_epochs=self.max_epochs,
            patience=self.patience,
            batch_size=self.batch_size,
            seed=seed,
            trial=trial,
            jit_compile=self.jit_compile,
        )

    def _cross_validated(self, trial: optuna.Trial, genome: HeadGenome) -> float:
        from optuna_hamming.vision.trial_attrs import cv_attrs  # (it imports this module)

        probabilities = np.zeros((len(self.y_fit), self.n_classes), dtype=np.float32)
        fold_f1: list[float] = []
        results: list[TrainingResult] = []
        for k, (fit, held) in enumerate(self.fold_positions):
            fold_seed = self.trial_seed(trial.number, k)
            with _TRAINING:
                model, result = self._train(
                    genome, self.X_fit[fit], self.y_fit[fit], self.X_fit[held],
                    self.y_fit[held], fold_seed, None,
                )  # fmt: skip
                probabilities[held] = predict_probabilities(model, self.X_fit[held])
                del model
            fold_f1.append(result.scores.macro_f1)
            results.append(result)
            trial.report(float(np.mean(fold_f1)), k)
            if k + 1 < self.folds and trial.should_prune():
                trial.set_user_attr(FOLD_MACRO_F1_ATTR, fold_f1)
                raise optuna.TrialPruned()
        for key, value in cv_attrs(results, probabilities, self.y_fit).items():
            trial.set_user_attr(key, value)
        return float(np.mean(fold_f1))
