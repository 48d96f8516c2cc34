"""A linear member for the greedy ensemble: logistic regression as a softmax layer (layer 3).

On pooled CNN features a logistic regression with a tuned C is a strong model: the heads
issue measured it at or above every searched head on MobileNetV2. The greedy ensemble
(:mod:`optuna_hamming.vision.ensemble`) may therefore pick it next to the GA's heads: its
C is chosen among ``C_GRID`` by out-of-fold macro F1 on the study's own folds (the ones
every trial was scored on), trained on every view of each fold's images, each held-out image
scored by its views' mean. Its out-of-fold probabilities make it a :class:`Candidate` like
any head.

Retrained on train + validation, it becomes one Keras ``Dense`` softmax layer whose weights
fold in the standardisation (``W = coef / scale``, ``b = intercept - (mean / scale) @
coef.T``): the same probabilities as scikit-learn's, from a stock layer that the exported
``.keras`` file reloads with ``safe_mode=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.vision.fitness import CrossValidationFolds, check_fitness
from optuna_hamming.vision.scoring import mean_over_views

LINEAR_MEMBER = "logistic-regression"  # Candidate.kind of the linear member
C_GRID = tuple(float(c) for c in np.logspace(-3, 1, 5))
MAX_ITER = 3000


def fit_logistic_regression(
    X: npt.NDArray[np.float32], y: npt.NDArray[np.int64], C: float, seed: int = 0
) -> Pipeline:
    """Standardised features, then a multinomial logistic regression with ``C``."""
    model: Pipeline = make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=MAX_ITER, random_state=seed)
    )
    model.fit(X, y)
    return model


def class_probabilities(
    model: Pipeline, X: npt.NDArray[np.float32], n_classes: int
) -> npt.NDArray[np.float32]:
    """``predict_proba`` spread over all ``n_classes`` (a fold may lack a small class)."""
    probabilities = np.zeros((len(X), n_classes), dtype=np.float32)
    probabilities[:, model.classes_] = model.predict_proba(X)
    return probabilities


def oof_probabilities(
    cv: CrossValidationFolds, Cs: Sequence[float], n_classes: int, seed: int = 0
) -> list[npt.NDArray[np.float32]]:
    """Each C's out-of-fold probabilities (per image, in ``cv``'s order) of a logistic
    regression trained on every view of each fold's images, a held-out image scored by its
    views' mean. Each fold's rows are sliced once for all the Cs."""
    held_out: list[list[npt.NDArray[np.float32]]] = [[] for _ in Cs]
    for k in range(len(cv.positions)):
        split = cv.split(k)
        for i, C in enumerate(Cs):
            model = fit_logistic_regression(split.X_train, split.y_train, C, seed)
            probabilities = class_probabilities(model, split.X_val, n_classes)
            held_out[i].append(mean_over_views(probabilities, split.n_views))
    return [cv.out_of_fold(per_fold, n_classes) for per_fold in held_out]


def linear_oof(
    features: FeatureSet, splits: Splits, *, folds: int, seed: int
) -> tuple[float, float, npt.NDArray[np.float32]]:
    """The best C of ``C_GRID`` on the folds a study seeded ``seed`` scores its trials on,
    its out-of-fold macro F1 and its out-of-fold probabilities (per image, train +
    validation in index order)."""
    check_fitness("cv", folds)
    cv = CrossValidationFolds.of(features, splits, folds, seed)
    oofs = oof_probabilities(cv, C_GRID, len(features.class_names), seed)
    scores = [
        float(f1_score(cv.y, oof.argmax(axis=1), average="macro", zero_division=0)) for oof in oofs
    ]
    best = int(np.argmax(scores))  # the first of the best
    return C_GRID[best], scores[best], oofs[best]


def linear_head(model: Pipeline, n_classes: int, name: str = "linear") -> keras.Model:
    """``model`` (:func:`fit_logistic_regression`) as one Dense softmax layer with the
    standardisation folded into its weights."""
    scaler: StandardScaler = model[0]
    regression: LogisticRegression = model[-1]
    coef = np.zeros((n_classes, regression.coef_.shape[1]))
    intercept = np.zeros(n_classes)
    if regression.coef_.shape[0] == 1:  # two classes: p(1) = sigmoid(z) = softmax(-z/2, z/2)
        coef[regression.classes_] = np.concatenate([-regression.coef_, regression.coef_]) / 2
        intercept[regression.classes_] = np.array([-1.0, 1.0]) * regression.intercept_[0] / 2
    else:
        coef[regression.classes_] = regression.coef_
        intercept[regression.classes_] = regression.intercept_
    # A class the fit never saw gets no probability (scikit-learn gives it none either).
    intercept[np.setdiff1d(np.arange(n_classes), regression.classes_)] = -1e9
    kernel = (coef / scaler.scale_).T
    bias = intercept - (scaler.mean_ / scaler.scale_) @ coef.T
    inputs = keras.Input((kernel.shape[0],), name="features")
    dense = keras.layers.Dense(n_classes, activation="softmax", name="logistic_regression")
    outputs = dense(inputs)
    dense.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return keras.Model(inputs, outputs, name=name)
