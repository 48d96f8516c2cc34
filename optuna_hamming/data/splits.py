"""Seeded stratified train / validation / test splits (paper: 20 % test, 20 % of the rest val)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import train_test_split

IndexArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Splits:
    train: IndexArray
    validation: IndexArray
    test: IndexArray

    @property
    def train_and_validation(self) -> IndexArray:
        return np.sort(np.concatenate([self.train, self.validation]))


def stratified_splits(
    labels: npt.ArrayLike, *, test_size: float = 0.2, validation_size: float = 0.2, seed: int = 0
) -> Splits:
    """Indices of a stratified test split, then a stratified validation split of the rest."""
    y = np.asarray(labels)
    for name, size in (("test_size", test_size), ("validation_size", validation_size)):
        if not 0.0 < size < 1.0:
            raise ValueError(f"`{name}` must be a fraction in (0, 1), got {size}; e.g. 0.2")
    counts = np.bincount(y)
    if (counts[counts > 0] < 3).any():
        small = int(np.flatnonzero((counts > 0) & (counts < 3))[0])
        raise ValueError(
            f"class {small} has {counts[small]} example(s); a stratified train/validation/test "
            "split needs at least 3 per class: add images or drop the class"
        )
    everything = np.arange(len(y))
    rest, test = train_test_split(everything, test_size=test_size, stratify=y, random_state=seed)
    train, validation = train_test_split(
        rest, test_size=validation_size, stratify=y[rest], random_state=seed
    )
    return Splits(np.sort(train), np.sort(validation), np.sort(test))
