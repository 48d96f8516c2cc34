"""Feature standardisation (layer 3): heads see every feature on one scale.

The pooled output of a ReLU6 network lies in [0, 6]; a middle block's output
(``--layers multi-layer``) is a linear bottleneck of any sign and scale, and the max pooling
of the last map sits near its cap. Dense heads with the optimizers' default step sizes train
poorly on such a mix (the first multi-layer run of the preset scored 0.64 out-of-fold where
the pooled features gave 0.93), which a logistic regression hides by standardising its
inputs. ``standardise`` gives each feature zero mean and unit variance over the rows of the
images a model may fit on (train + validation, every view; test is never read), and
``Standardisation.layer`` is the same transform as a stock Keras ``Normalization`` layer in
front of the exported head.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt

from optuna_hamming.data.datasets import FeatureSet


@dataclass(frozen=True)
class Standardisation:
    """Per-feature mean and scale (a feature that never varies keeps scale 1)."""

    mean: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]

    @classmethod
    def fit(cls, X: npt.NDArray[np.float32]) -> Standardisation:
        mean = X.mean(axis=0, dtype=np.float64)
        scale = X.std(axis=0, dtype=np.float64)
        scale[scale == 0.0] = 1.0
        return cls(mean.astype(np.float32), scale.astype(np.float32))

    def apply(self, X: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        standardised: npt.NDArray[np.float32] = ((X - self.mean) / self.scale).astype(np.float32)
        return standardised

    def layer(self) -> keras.layers.Layer:
        """The transform as a layer (Keras divides by the square root of the variance)."""
        return keras.layers.Normalization(
            mean=self.mean.tolist(), variance=(self.scale**2).tolist(), name="standardise"
        )

    def in_front_of(self, head: keras.Model) -> keras.Model:
        """``head`` taking raw features: this layer, then ``head``."""
        inputs = keras.Input((len(self.mean),), name="raw_features")
        return keras.Model(inputs, head(self.layer()(inputs)), name="standardised_head")


def standardise(features: FeatureSet, fit_on: npt.ArrayLike) -> tuple[FeatureSet, Standardisation]:
    """``features`` standardised by the statistics of images ``fit_on``'s rows (every view)."""
    transform = Standardisation.fit(features.rows(fit_on))
    augmented = None
    if features.augmented is not None:
        augmented = np.stack([transform.apply(view) for view in features.augmented])
    standardised = FeatureSet(
        transform.apply(features.X),
        features.y,
        features.class_names,
        features.name,
        augmented,
        features.views,
    )
    return standardised, transform
