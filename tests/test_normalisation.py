"""Feature standardisation: statistics from train + validation only, every view, and the same
transform as a Keras layer in front of an exported head (issue 37)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from optuna_hamming.data import FeatureSet
from optuna_hamming.vision.normalisation import Standardisation, standardise
from optuna_hamming.vision.scoring import predict_probabilities

pytestmark = pytest.mark.keras


def test_statistics_come_from_the_rows_fitted_on_and_the_layer_matches(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, (40, 6)).astype(np.float32)
    X[:, 2] = 1.0  # a constant feature keeps scale 1
    flipped = (X + rng.normal(0, 0.5, X.shape)).astype(np.float32)
    flipped[:, 2] = 1.0
    labels = np.arange(40) % 2
    features = FeatureSet(X, labels, ("a", "b"), "x", flipped[None], ("identity", "flip"))
    fit_on = np.arange(30)  # the last ten rows play test: never read
    scaled, transform = standardise(features, fit_on)
    rows = scaled.rows(fit_on)
    np.testing.assert_allclose(rows.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(rows[:, [0, 1, 3, 4, 5]].std(axis=0), 1.0, atol=1e-4)
    assert transform.scale[2] == 1.0 and (scaled.X[:, 2] == 0.0).all()
    changed = X.copy()
    changed[30:] += 100.0  # test rows do not move the statistics
    again = standardise(FeatureSet(changed, labels, ("a", "b"), "x"), fit_on)[1]
    plain = standardise(FeatureSet(X, labels, ("a", "b"), "x"), fit_on)[1]
    np.testing.assert_array_equal(again.mean, plain.mean)
    # The layer in front of a head gives the head's outputs on the standardised rows, and
    # reloads with safe_mode=True.
    inputs = keras.Input((6,))
    head = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    wrapped = transform.in_front_of(head)
    np.testing.assert_allclose(
        predict_probabilities(wrapped, X), predict_probabilities(head, scaled.X), atol=1e-5
    )
    path = tmp_path / "wrapped.keras"
    wrapped.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        predict_probabilities(reloaded, X), predict_probabilities(head, scaled.X), atol=1e-5
    )
    assert isinstance(Standardisation.fit(X).layer(), keras.layers.Normalization)
