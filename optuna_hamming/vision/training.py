"""Fitting one head on arrays (layer 3): the one training core of the search and the final model.

:func:`train_head` fits a head with early stopping on its validation split and returns the
model and its :class:`TrainingResult` (scores, epochs, learning curves); the objective trains
every trial's head (or fold) with it. :func:`fit_head` fits one for a fixed number of epochs
with no validation data left, as the final model and the ensemble's members are retrained.
Both feed the head through :class:`ShuffledBatches`; the batched JAX trainer
(:mod:`.batched`) follows the same batches and builds its results with
:func:`training_result`, so a head trained there is the head trained here.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import optuna

from optuna_hamming.vision.heads import HeadGenome, build_head
from optuna_hamming.vision.scoring import HeadScores, predict_classes, score


@dataclass(frozen=True)
class DataSplit:
    """The rows a head trains and validates on (a holdout split, or a fold).

    With augmented views (``n_views`` > 1) the training rows hold every view of the
    training images, and ``X_val`` every view of the validation images, view-major, while
    ``y_val`` labels each validation image once: an image is scored by its views' mean.
    """

    X_train: npt.NDArray[np.float32]
    y_train: npt.NDArray[np.int64]
    X_val: npt.NDArray[np.float32]
    y_val: npt.NDArray[np.int64]
    n_views: int = 1

    @property
    def y_val_rows(self) -> npt.NDArray[np.int64]:
        """The labels of ``X_val``'s rows (validation loss is taken per row)."""
        return np.tile(self.y_val, self.n_views)


def check_training(max_epochs: int, patience: int) -> None:
    """Refuse an epoch budget or patience no head can be trained with, naming the fix."""
    if max_epochs < 1:
        raise ValueError(f"`max_epochs` must be >= 1, got {max_epochs}; the paper uses 200")
    if patience < 0:
        raise ValueError(f"`patience` must be >= 0, got {patience}; the paper uses 5")


class ShuffledBatches(keras.utils.PyDataset):
    """Mini-batches in an order drawn afresh each epoch from a Generator of its own.

    Keras shuffles arrays with the global NumPy (or TensorFlow) random state, and a
    ``PyDataset``'s batches with Python's ``random``, which would make training depend on, and
    disturb, whatever else draws from them (other threads among them): fit with
    ``shuffle=False``. ``benchmarks/shuffled_batches.py`` (2 cores): 0.94x the time of
    ``fit(X, y, shuffle=True)`` on TensorFlow, 0.99x on JAX. ``order`` is the current epoch's
    row order (the batched trainer reads it).
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
        self.order = self._rng.permutation(len(y))

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.X[chosen], self.y[chosen]

    def on_epoch_end(self) -> None:
        self.order = self._rng.permutation(len(self.y))


@dataclass
class TrainingResult:
    scores: HeadScores
    epochs: int
    best_epoch: int
    seconds: float
    curves: dict[str, list[float]] = field(default_factory=dict)
    pruned: bool = False


def training_result(
    y_val: npt.NDArray[np.int64],
    predicted: npt.NDArray[np.int64],
    *,
    losses: list[float],
    val_losses: list[float],
    val_macro_f1: list[float],
    seconds: float,
    pruned: bool,
) -> TrainingResult:
    """A head's result from its best weights' validation labels and its per-epoch curves."""
    return TrainingResult(
        scores=score(y_val, predicted),
        epochs=len(val_losses),
        best_epoch=int(np.nanargmin(val_losses)) + 1 if val_losses else 0,
        seconds=seconds,
        curves={"loss": losses, "val_loss": val_losses, "val_macro_f1": val_macro_f1},
        pruned=pruned,
    )


class _EpochReporter(keras.callbacks.Callback):
    """Validation macro F1 after every epoch, reported to the trial (and pruning on request)."""

    def __init__(
        self,
        X_val: npt.NDArray[np.float32],
        y_val: npt.NDArray[np.int64],
        trial: optuna.Trial | None,
        n_views: int,
    ) -> None:
        super().__init__()
        self.X_val, self.y_val, self.trial, self.n_views = X_val, y_val, trial, n_views
        self.f1: list[float] = []
        self.pruned = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        predicted = predict_classes(self.model, self.X_val, self.n_views)
        value = score(self.y_val, predicted).macro_f1
        self.f1.append(value)
        if self.trial is not None:
            self.trial.report(value, epoch)
            if self.trial.should_prune():
                self.pruned = True
                self.model.stop_training = True


def _fit(
    model: keras.Model,
    X: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    **fit_options: Any,
) -> keras.callbacks.History:
    history: keras.callbacks.History = model.fit(
        ShuffledBatches(X, y, batch_size, seed),
        shuffle=False,  # the batches shuffle themselves (Keras would use Python's `random`)
        epochs=epochs,
        verbose=0,
        **fit_options,
    )
    return history


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
    n_views: int = 1,
) -> tuple[keras.Model, TrainingResult]:
    """Fit a head with early stopping on validation loss (best weights restored).

    ``seed`` seeds the initial weights, the dropout and the batch order, so the same call
    gives the same head. With ``trial``, each epoch's validation macro F1 is reported to it
    and training stops (``result.pruned``) when its pruner says so. With ``n_views`` > 1,
    ``X_val`` holds that many views of the images ``y_val`` labels (view-major): the loss
    is taken on every row, the macro F1 on each image's mean over its views."""
    model = build_head(
        genome,
        n_features=X_train.shape[1],
        n_classes=n_classes,
        seed=seed,
        jit_compile=jit_compile,
    )
    reporter = _EpochReporter(X_val, y_val, trial, n_views)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    start = time.perf_counter()
    history = _fit(
        model,
        X_train,
        y_train,
        epochs=max_epochs,
        batch_size=batch_size,
        seed=seed,
        validation_data=(X_val, np.tile(y_val, n_views)),
        callbacks=[stopper, reporter],
    )
    seconds = time.perf_counter() - start
    result = training_result(
        y_val,
        predict_classes(model, X_val, n_views),
        losses=[float(v) for v in history.history["loss"]],
        val_losses=[float(v) for v in history.history["val_loss"]],
        val_macro_f1=reporter.f1,
        seconds=seconds,
        pruned=reporter.pruned,
    )
    return model, result


def fit_head(
    genome: HeadGenome,
    X: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    *,
    n_classes: int,
    epochs: int,
    batch_size: int = 32,
    seed: int = 0,
    name: str = "head",
) -> keras.Model:
    """Fit a head for ``epochs`` (at least one) on all of ``X``: no validation data is left
    to stop on, so the final model and the ensemble's members train for the epoch count the
    search found."""
    model = build_head(genome, n_features=X.shape[1], n_classes=n_classes, seed=seed, name=name)
    _fit(model, X, y, epochs=max(1, epochs), batch_size=batch_size, seed=seed)
    return model


def free_keras_memory() -> None:
    """Drop Keras' global state and collect garbage (models of finished trials)."""
    keras.backend.clear_session()
    gc.collect()
