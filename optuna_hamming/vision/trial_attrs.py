"""The user attributes a head's trial carries, one definition for the one-by-one objective
(:class:`HeadObjective`) and the batched one (:func:`optimize_in_batches`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from optuna_hamming.vision.fitness import (
    FITNESS_ATTR,
    FOLD_BEST_EPOCH_ATTR,
    FOLD_MACRO_F1_ATTR,
    OOF_ATTR,
    OOF_MACRO_F1_ATTR,
    encode_probabilities,
)
from optuna_hamming.vision.scoring import score
from optuna_hamming.vision.training import TrainingResult


def holdout_attrs(result: TrainingResult) -> dict[str, Any]:
    """A holdout trial's scores beside its value, its epochs and its learning curves."""
    return {
        "weighted_f1": result.scores.weighted_f1,
        "accuracy": result.scores.accuracy,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.seconds, 4),
        "curves": {k: [round(v, 5) for v in vs] for k, vs in result.curves.items()},
    }


def cv_attrs(
    results: Sequence[TrainingResult],
    probabilities: npt.NDArray[np.float32],
    y_fit: npt.NDArray[np.int64],
) -> dict[str, Any]:
    """A CV trial's folds (in fold order) and its out-of-fold ``probabilities`` of the rows
    ``y_fit`` labels: per-fold scores, the pooled scores, and the stop the final model uses."""
    fold_f1 = [r.scores.macro_f1 for r in results]
    best_epochs = [r.best_epoch for r in results]
    pooled = score(y_fit, np.argmax(probabilities, axis=-1))
    curves: dict[str, list[float]] = {}
    for k, result in enumerate(results):
        for name, values in result.curves.items():
            curves[f"fold{k}_{name}"] = [round(v, 5) for v in values]
    curves["fold_macro_f1"] = [round(v, 5) for v in fold_f1]
    return {
        FITNESS_ATTR: f"cv{len(results)}",
        FOLD_MACRO_F1_ATTR: [round(v, 6) for v in fold_f1],
        FOLD_BEST_EPOCH_ATTR: best_epochs,
        OOF_MACRO_F1_ATTR: pooled.macro_f1,
        "weighted_f1": pooled.weighted_f1,
        "accuracy": pooled.accuracy,
        "epochs": sum(r.epochs for r in results),
        # What the final model trains for on train + validation: the folds' typical stop.
        "best_epoch": max(1, round(float(np.mean(best_epochs)))),
        "train_seconds": round(sum(r.seconds for r in results), 4),
        "curves": curves,
        OOF_ATTR: encode_probabilities(probabilities),
    }
