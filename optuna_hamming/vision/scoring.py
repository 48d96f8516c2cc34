"""What a trained head predicts, and how its predicted labels score (layer 3).

Macro F1 is the paper's fitness (Eq. 1); weighted F1 and accuracy are stored beside it. The
search, the batched trainer, the final model and the ensemble all score with :func:`score`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, f1_score


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


def mean_over_views(
    probabilities: npt.NDArray[np.float32], n_views: int
) -> npt.NDArray[np.float32]:
    """Rows stacked view-major (:meth:`optuna_hamming.data.FeatureSet.rows`) averaged per
    image: test-time augmentation."""
    if n_views == 1:
        return probabilities
    n = len(probabilities) // n_views
    if n * n_views != len(probabilities):
        raise ValueError(f"{len(probabilities)} rows are not {n_views} views of equal size")
    stacked = probabilities.reshape(n_views, n, *probabilities.shape[1:])
    return np.asarray(stacked.mean(axis=0), dtype=np.float32)


def predict_image_probabilities(
    model: keras.Model, X: npt.NDArray[np.float32], n_views: int = 1
) -> npt.NDArray[np.float32]:
    """Each image's probabilities from the rows of its ``n_views`` views (view-major)."""
    return mean_over_views(predict_probabilities(model, X), n_views)


def predict_classes(
    model: keras.Model, X: npt.NDArray[np.float32], n_views: int = 1
) -> npt.NDArray[np.int64]:
    """Each image's class: the argmax of its views' mean probabilities."""
    probabilities = predict_image_probabilities(model, X, n_views)
    classes: npt.NDArray[np.int64] = np.argmax(probabilities, axis=-1)
    return classes.astype(np.int64)
