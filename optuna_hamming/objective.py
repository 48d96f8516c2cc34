"""The Optuna objective that trains a head per trial, and the final model (layer 3).

Fitness is macro F1 on the validation split (paper, Eq. 1). Each epoch's validation macro F1 is
reported with ``trial.report`` so Optuna's pruners work; weighted F1, accuracy, epochs trained,
the best epoch and training seconds are stored as user attributes. Each trial frees its model
(``keras.backend.clear_session`` and ``gc.collect``), so memory stays flat over long studies.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import optuna
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

from optuna_hamming.compilation_cache import use_jax_compilation_cache
from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.heads import HeadGenome, build_head
from optuna_hamming.paper import suggest_paper_genome


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


def predict_classes(model: keras.Model, X: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    # predict() loops and is several times slower on arrays this small. JAX and torch run
    # the compiled predict step; TensorFlow would trace a new tf.function for every head
    # (and warn about retracing each time), so it calls the model eagerly.
    if keras.backend.backend() == "tensorflow":
        probabilities = model(X, training=False)
    else:
        probabilities = model.predict_on_batch(X)
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.argmax(probabilities, axis=-1)))


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
        X_train,
        y_train,
        validation_data=(X_val, y_val),
        epochs=max_epochs,
        batch_size=batch_size,
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

    ``features`` and ``splits`` come from :mod:`optuna_hamming.features` and
    :func:`optuna_hamming.data.stratified_splits`. The seed of each trial's training is
    ``seed + trial.number``, so a trial can be retrained exactly. On JAX it turns on the
    persistent compilation cache (:mod:`optuna_hamming.compilation_cache`) unless
    ``compilation_cache=False``.
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
        compilation_cache: bool | str | Path = True,
    ) -> None:
        if max_epochs < 1:
            raise ValueError(f"`max_epochs` must be >= 1, got {max_epochs}; the paper uses 200")
        if patience < 0:
            raise ValueError(f"`patience` must be >= 0, got {patience}; the paper uses 5")
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
        # On JAX, heads of an architecture met before load their compiled steps from disk
        # (True: under the project cache; a path: there; False: compile every head).
        if compilation_cache is not False:
            use_jax_compilation_cache(None if compilation_cache is True else compilation_cache)

    def __call__(self, trial: optuna.Trial) -> float:
        genome = HeadGenome.from_params(suggest_paper_genome(trial))
        with _TRAINING:
            model, result = train_head(
                genome,
                self.X_train,
                self.y_train,
                self.X_val,
                self.y_val,
                n_classes=self.n_classes,
                max_epochs=self.max_epochs,
                patience=self.patience,
                batch_size=self.batch_size,
                seed=self.seed + trial.number,
                trial=trial,
                jit_compile=self.jit_compile,
            )
            del model
        trial.set_user_attr("weighted_f1", result.scores.weighted_f1)
        trial.set_user_attr("accuracy", result.scores.accuracy)
        trial.set_user_attr("epochs", result.epochs)
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("train_seconds", round(result.seconds, 4))
        trial.set_user_attr(
            "curves", {k: [round(v, 5) for v in vs] for k, vs in result.curves.items()}
        )
        if result.pruned:
            raise optuna.TrialPruned()
        return result.scores.macro_f1


@dataclass
class FinalModel:
    head: keras.Model
    genome: HeadGenome
    test: HeadScores
    report: dict[str, Any]
    confusion: list[list[int]]
    epochs: int


def train_final_model(
    genome: HeadGenome,
    features: FeatureSet,
    splits: Splits,
    *,
    epochs: int,
    batch_size: int = 32,
    seed: int = 0,
) -> FinalModel:
    """Retrain ``genome`` on train + validation for ``epochs`` (the search's best epoch count,
    since no validation data is left to stop on), then score it on the held-out test split."""
    X, y = features.X, features.y
    fit_idx = splits.train_and_validation
    model = build_head(
        genome, n_features=X.shape[1], n_classes=len(features.class_names), seed=seed
    )
    model.fit(X[fit_idx], y[fit_idx], epochs=max(1, epochs), batch_size=batch_size, verbose=0)
    predicted = predict_classes(model, X[splits.test])
    labels = list(range(len(features.class_names)))
    report = classification_report(
        y[splits.test],
        predicted,
        labels=labels,
        target_names=list(features.class_names),
        output_dict=True,
        zero_division=0,
    )
    matrix = confusion_matrix(y[splits.test], predicted, labels=labels)
    return FinalModel(
        model,
        genome,
        score(y[splits.test], predicted),
        report,
        matrix.tolist(),
        max(1, epochs),
    )


def image_classifier(
    backbone_model: keras.Model, head: keras.Model, image_size: tuple[int, int]
) -> keras.Model:
    """One model from raw RGB images (0-255) of any size to class probabilities: resizing,
    the backbone with its preprocessing, and the head."""
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Resizing(*image_size, name="resize")(inputs)
    probabilities = head(backbone_model(x))
    return keras.Model(inputs, probabilities, name="image_classifier")


def export_image_classifier(
    backbone_model: keras.Model, head: keras.Model, image_size: tuple[int, int], path: str | Path
) -> Path:
    """Save :func:`image_classifier` as one ``.keras`` file."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save the final model as a .keras file, got {path.name}")
    classifier = image_classifier(backbone_model, head, image_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    classifier.save(path)
    return path
