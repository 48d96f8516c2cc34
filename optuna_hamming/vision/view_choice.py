"""Which augmented views suit the user's data, chosen by cross-validation (layer 3).

A mirror keeps the label of a photo of an animal and may change that of a digit; a shift
suits both. The recommended preset does not guess: it scores each view set of
:data:`optuna_hamming.vision.views.VIEW_SETS` by the out-of-fold macro F1 of a cheap,
fixed reference model (a logistic regression on standardised features, C = 1), trained on
every view of each fold's images and scoring each held-out image by its views' mean, on
stratified folds of train + validation drawn over images. The test split is never read. A
set must beat the images alone by ``margin`` to be chosen, so that a tie costs no extra
backbone passes at prediction time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.names import VIEWS_AUTO as AUTO_VIEWS
from optuna_hamming.names import VIEWS_NONE as NO_VIEWS
from optuna_hamming.vision.fitness import cv_folds
from optuna_hamming.vision.scoring import mean_over_views
from optuna_hamming.vision.views import VIEW_SETS

__all__ = ["AUTO_VIEWS", "NO_VIEWS", "ViewChoice", "choose_views", "view_set_score"]


@dataclass(frozen=True)
class ViewChoice:
    """The chosen view set and every candidate's out-of-fold macro F1."""

    name: str
    scores: dict[str, float]

    def describe(self) -> str:
        listed = ", ".join(f"{name} {value:.4f}" for name, value in self.scores.items())
        return f"views {self.name} (out-of-fold macro F1 of a logistic regression: {listed})"


def view_set_score(features: FeatureSet, splits: Splits, *, folds: int, seed: int) -> float:
    """Out-of-fold macro F1 of the reference model on ``features``' views."""
    fit_on = splits.train_and_validation
    chosen = features.select(fit_on)
    probabilities = np.zeros((len(fit_on), len(features.class_names)))
    for fit, held in cv_folds(chosen.y, folds, seed):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        model.fit(chosen.rows(fit), chosen.row_labels(fit))
        held_probabilities = np.zeros(
            (len(held) * chosen.n_views, len(features.class_names)), dtype=np.float32
        )
        held_probabilities[:, model.classes_] = model.predict_proba(chosen.rows(held))
        probabilities[held] = mean_over_views(held_probabilities, chosen.n_views)
    return float(f1_score(chosen.y, probabilities.argmax(1), average="macro", zero_division=0))


def choose_views(
    features: FeatureSet,
    splits: Splits,
    *,
    candidates: Sequence[str] = tuple(VIEW_SETS),
    folds: int = 3,
    seed: int = 0,
    margin: float = 0.002,
) -> ViewChoice:
    """The view set among ``candidates`` (each a subset of ``features.views``) with the best
    out-of-fold macro F1; the images alone unless a set beats them by ``margin``."""
    scores = {
        name: view_set_score(features.only_views(VIEW_SETS[name]), splits, folds=folds, seed=seed)
        for name in candidates
    }
    best = max(scores, key=lambda name: (scores[name], -len(VIEW_SETS[name])))
    baseline = scores.get(NO_VIEWS)
    if baseline is not None and scores[best] < baseline + margin:
        best = NO_VIEWS
    return ViewChoice(best, scores)
