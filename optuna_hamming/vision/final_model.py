"""The final model: the best genome retrained, scored on test, and exported (layer 3).

:func:`train_final_model` retrains a genome on train + validation and scores it on the held-out
test split; :func:`image_classifier` joins resizing, the backbone and the head into one model
from raw images to class probabilities, and :func:`export_image_classifier` saves it as one
``.keras`` file that reloads with ``safe_mode=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
from sklearn.metrics import classification_report, confusion_matrix

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.vision.heads import HeadGenome, build_head
from optuna_hamming.vision.objective import HeadScores, ShuffledBatches, predict_classes, score


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
    model.fit(
        ShuffledBatches(X[fit_idx], y[fit_idx], batch_size, seed),
        shuffle=False,
        epochs=max(1, epochs),
        verbose=0,
    )
    scores, report, confusion = test_report(
        features, splits, predict_classes(model, X[splits.test])
    )
    return FinalModel(model, genome, scores, report, confusion, max(1, epochs))


def test_report(
    features: FeatureSet, splits: Splits, predicted: npt.NDArray[np.int64]
) -> tuple[HeadScores, dict[str, Any], list[list[int]]]:
    """Scores, classification report and confusion matrix of test-split labels."""
    y_test = features.y[splits.test]
    labels = list(range(len(features.class_names)))
    report = classification_report(
        y_test,
        predicted,
        labels=labels,
        target_names=list(features.class_names),
        output_dict=True,
        zero_division=0,
    )
    matrix = confusion_matrix(y_test, predicted, labels=labels)
    return score(y_test, predicted), report, matrix.tolist()


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
