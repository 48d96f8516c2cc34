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

:class:`FitnessData` holds the rows every trial trains on under either fitness, and
:func:`trial_seed` each trial's (and fold's) training seed: the objective trials are given
one by one and the batched study share them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import StratifiedKFold

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.vision.heads import SEED_MODULUS
from optuna_hamming.vision.training import DataSplit

IndexArray = npt.NDArray[np.int64]
Fitness = Literal["holdout", "cv"]
FITNESS_CHOICES: tuple[Fitness, ...] = ("holdout", "cv")
MAX_FOLDS = 100  # a fold's training seed is trial_seed * MAX_FOLDS + fold

# User attributes of a cross-validated trial (besides HeadObjective's own, .trial_attrs).
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


def trial_seed(seed: int, number: int, fold: int | None = None) -> int:
    """The training seed of trial ``number`` of a study seeded ``seed`` (of its fold ``fold``
    under CV): ``seed + number``, or ``(seed + number) * MAX_FOLDS + fold``, so that any trial
    can be retrained exactly."""
    if fold is None:
        return seed + number
    return ((seed + number) * MAX_FOLDS + fold) % SEED_MODULUS


@dataclass(frozen=True)
class CrossValidationFolds:
    """Train + validation (``features``, its images in index order, with every view) and its
    folds' (fit, held-out) positions into it. Folds are drawn over images, and a fold's rows
    are its images' views, so no view of a held-out image is ever fitted on."""

    features: FeatureSet
    positions: list[tuple[IndexArray, IndexArray]]

    @classmethod
    def of(
        cls, features: FeatureSet, splits: Splits, folds: int, seed: int
    ) -> CrossValidationFolds:
        """Stratified ``folds``-fold CV of train + validation, drawn from ``seed``: the folds
        every trial of a study seeded ``seed`` is scored on (and anything compared with it)."""
        fit_on = features.select(splits.train_and_validation)
        return cls(fit_on, cv_folds(fit_on.y, folds, seed))

    @property
    def X(self) -> npt.NDArray[np.float32]:
        """The images' own features (view 0)."""
        return self.features.X

    @property
    def y(self) -> npt.NDArray[np.int64]:
        return self.features.y

    def split(self, fold: int) -> DataSplit:
        """Fold ``fold``'s rows (sliced when asked: K folds held at once would be K copies)."""
        fit, held = self.positions[fold]
        f = self.features
        return DataSplit(f.rows(fit), f.row_labels(fit), f.rows(held), f.y[held], f.n_views)

    def out_of_fold(
        self, held_out: Sequence[npt.NDArray[np.float32]], n_classes: int
    ) -> npt.NDArray[np.float32]:
        """Every image's probabilities from the fold that held it out, ``held_out`` in fold
        order (each already the mean over the image's views)."""
        probabilities = np.zeros((len(self.y), n_classes), dtype=np.float32)
        for (_, held), fold_probabilities in zip(self.positions, held_out, strict=True):
            probabilities[held] = fold_probabilities
        return probabilities


@dataclass(frozen=True)
class FitnessData:
    """The rows every trial of a study trains and is scored on: the holdout's train and
    validation split, and with ``fitness="cv"`` the folds of train + validation as well
    (``cv``, drawn once from the study's seed, so every trial is scored on the same folds).
    """

    n_classes: int
    holdout: DataSplit
    cv: CrossValidationFolds | None = None

    @classmethod
    def of(
        cls,
        features: FeatureSet,
        splits: Splits,
        *,
        fitness: str = "holdout",
        folds: int = 5,
        seed: int = 0,
    ) -> FitnessData:
        """The rows of ``features`` that ``splits`` name, as
        :class:`optuna_hamming.vision.HeadObjective` takes them; refuses a ``fitness`` or
        ``folds`` that cannot be run."""
        check_fitness(fitness, folds)
        y = features.y
        train, validation = splits.train, splits.validation
        holdout = DataSplit(
            features.rows(train),
            features.row_labels(train),
            features.rows(validation),
            y[validation],
            features.n_views,
        )
        cv = None
        if fitness == "cv":
            # Positions into train + validation (sorted indices), the same for every trial,
            # drawn over images whatever the views.
            cv = CrossValidationFolds.of(features, splits, folds, seed)
        return cls(len(features.class_names), holdout, cv)

    def data_splits(self) -> list[DataSplit]:
        """What a trial's heads train on, in order: the holdout split, or each fold."""
        if self.cv is None:
            return [self.holdout]
        return [self.cv.split(k) for k in range(len(self.cv.positions))]
