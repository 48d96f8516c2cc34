"""How a head is scored during the search (layer 3): the paper's holdout, or K-fold CV.

The paper scores each head by macro F1 on one 20 % validation split. Picking the best of about
a hundred heads on a split whose smallest class has about ten images rewards luck on that
split (the winner's curse): the chosen head's validation score does not carry to test.
``cv`` scores a head by stratified K-fold macro F1 on train + validation instead: every
example is held out once, and the mean over K folds has a smaller variance than one split.

The folds are drawn once per study (from the objective's seed), so every trial is scored on
the same folds: their out-of-fold predictions are comparable, which the ensemble of
:mod:`optuna_hamming.vision.ensemble` relies on. They are stored with each trial as a user
attribute (float16, base64), so any worker on any storage can build the ensemble.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import StratifiedKFold

IndexArray = npt.NDArray[np.int64]
Fitness = Literal["holdout", "cv"]
FITNESS_CHOICES: tuple[Fitness, ...] = ("holdout", "cv")
MAX_FOLDS = 100  # a fold's training seed is trial_seed * MAX_FOLDS + fold

# User attributes of a cross-validated trial (besides HeadObjective's own).
FITNESS_ATTR = "fitness"  # "cv5": the fitness the value is, with its folds
FOLD_MACRO_F1_ATTR = "fold_macro_f1"  # per fold, in fold order
FOLD_BEST_EPOCH_ATTR = "fold_best_epoch"
OOF_MACRO_F1_ATTR = "oof_macro_f1"  # macro F1 of the pooled out-of-fold labels
OOF_ATTR = "oof_probabilities"  # {"shape": [n, classes], "float16": base64}


def check_fitness(fitness: str, folds: int) -> None:
    """Refuse a fitness or fold count that cannot be run, naming the fix."""
    if fitness not in FITNESS_CHOICES:
        raise ValueError(
            f"unknown fitness {fitness!r}: use 'holdout' (the paper: one validation split) "
            "or 'cv' (stratified K-fold on train + validation, with `folds`)"
        )
    if not 2 <= folds <= MAX_FOLDS:
        raise ValueError(f"`folds` must be in [2, {MAX_FOLDS}], got {folds}; 5 is usual")


def cv_folds(labels: npt.ArrayLike, folds: int, seed: int) -> list[tuple[IndexArray, IndexArray]]:
    """Stratified ``folds``-fold (fit, held-out) positions into ``labels``, shuffled by ``seed``."""
    y = np.asarray(labels)
    counts = np.bincount(y)
    present = counts[counts > 0]
    if present.min() < folds:
        small = int(np.flatnonzero((counts > 0) & (counts < folds))[0])
        raise ValueError(
            f"class {small} has {counts[small]} example(s) in train + validation, and "
            f"{folds}-fold cross-validation needs at least {folds} per class: pass "
            f"folds={int(present.min())} or fewer (--folds), or use the holdout fitness"
        )
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [
        (fit.astype(np.int64), held.astype(np.int64))
        for fit, held in splitter.split(np.zeros(len(y)), y)
    ]


def encode_probabilities(probabilities: npt.ArrayLike) -> dict[str, Any]:
    """A JSON-able copy of an (examples, classes) array: float16 is exact to 1e-3 here,
    and keeps 100 trials of 2,000 examples x 10 classes under 6 MB of storage."""
    array = np.asarray(probabilities, dtype=np.float16)
    return {
        "shape": list(array.shape),
        "float16": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def decode_probabilities(stored: dict[str, Any]) -> npt.NDArray[np.float32]:
    raw = base64.b64decode(stored["float16"])
    array = np.frombuffer(raw, dtype=np.float16).reshape(tuple(stored["shape"]))
    return array.astype(np.float32)
