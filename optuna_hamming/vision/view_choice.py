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

from sklearn.metrics import f1_score

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.names import VIEWS_NONE
from optuna_hamming.vision.fitness import CrossValidationFolds
from optuna_hamming.vision.linear_member import oof_probabilities
from optuna_hamming.vision.views import VIEW_SETS

REFERENCE_C = 1.0  # the reference model's C: fixed, so that only the views differ


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
    cv = CrossValidationFolds.of(features, splits, folds, seed)
    (oof,) = oof_probabilities(cv, [REFERENCE_C], len(features.class_names))
    return float(f1_score(cv.y, oof.argmax(axis=1), average="macro", zero_division=0))


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
    baseline = scores.get(VIEWS_NONE)
    if baseline is not None and scores[best] < baseline + margin:
        best = VIEWS_NONE
    return ViewChoice(best, scores)
