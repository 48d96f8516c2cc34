"""The head of SPEC 5 and its training, on real (tiny) data, under the active Keras backend."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from optuna_hamming.paper import OPTIMIZERS
from optuna_hamming.vision.heads import (
    HeadError,
    HeadGenome,
    build_head,
    layer_sizes,
    make_optimizer,
)
from optuna_hamming.vision.training import train_head

pytestmark = pytest.mark.keras


@pytest.mark.parametrize(
    ("neurons", "layers", "classes", "sizes"),
    [
        (512, 3, 10, [512, 256, 128]),
        (64, 4, 10, [64, 32, 16, 16]),  # 32 >= 20 halves to 16; 16 < 20 stops halving
        (32, 4, 10, [32, 16, 16, 16]),
        (1024, 1, 2, [1024]),
        (768, 4, 2, [768, 384, 192, 96]),
    ],
)
def test_halving_rule(neurons: int, layers: int, classes: int, sizes: list[int]) -> None:
    assert layer_sizes(neurons, layers, classes) == sizes


def test_head_architecture() -> None:
    head = build_head(HeadGenome(256, 3, "elu", "adamax"), n_features=20, n_classes=5)
    dense = [layer for layer in head.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [256, 128, 64, 5]
    assert [d.activation.__name__ for d in dense] == ["elu", "elu", "elu", "softmax"]
    dropout = [layer for layer in head.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(dropout) == 1 and dropout[0].rate == 0.5
    assert head.layers.index(dropout[0]) == len(head.layers) - 2
    assert type(head.optimizer).__name__.lower() == "adamax"


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_paper_optimizer_exists_with_keras_defaults(name: str) -> None:
    optimizer = make_optimizer(name)
    assert type(optimizer).__name__.lower() == name


def test_unknown_names_are_refused() -> None:
    with pytest.raises(HeadError, match=r"unknown optimizer 'adamw2'.*rmsprop"):
        make_optimizer("adamw2")
    with pytest.raises(HeadError, match="unknown activation 'gelu2'"):
        build_head(HeadGenome(32, 1, "gelu2", "adam"), n_features=4, n_classes=2)


def test_training_learns_and_stops_early() -> None:
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    model, result = train_head(
        HeadGenome(128, 2, "relu", "adam"),
        X[:1200],
        y[:1200],
        X[1200:],
        y[1200:],
        n_classes=10,
        max_epochs=200,
        patience=3,
        seed=0,
    )
    assert result.scores.macro_f1 > 0.9
    assert result.epochs < 200
    assert result.best_epoch == int(np.argmin(result.curves["val_loss"])) + 1
    assert len(result.curves["val_macro_f1"]) == result.epochs
    # Best weights restored: the final validation loss is the best epoch's.
    final = float(model.evaluate(X[1200:], y[1200:], verbose=0))
    assert final == pytest.approx(min(result.curves["val_loss"]), rel=1e-4, abs=1e-5)


def test_same_seed_same_head() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    runs = [
        train_head(
            HeadGenome(32, 1, "tanh", "rmsprop"),
            X[:80],
            y[:80],
            X[80:],
            y[80:],
            n_classes=2,
            max_epochs=5,
            patience=5,
            seed=7,
        )[1].curves["loss"]
        for _ in range(2)
    ]
    assert runs[0] == pytest.approx(runs[1], rel=1e-5)


def test_training_leaves_the_global_random_state_alone() -> None:
    """Seeds go to each layer's initializer, the dropout and the batch order, never to the
    process-wide generators (other threads and the caller draw from those)."""
    import random

    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    random.seed(5)
    np.random.seed(5)
    python_before, numpy_before = random.getstate(), np.random.get_state()[1].copy()
    train_head(
        HeadGenome(32, 2, "relu", "adam"), X[:40], y[:40], X[40:], y[40:],
        n_classes=2, max_epochs=3, patience=3, seed=11,
    )  # fmt: skip
    assert random.getstate() == python_before
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_before)


def test_heads_trained_in_threads_equal_heads_trained_alone() -> None:
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(2)
    X = rng.normal(size=(90, 5)).astype(np.float32)
    y = (X[:, 1] > 0).astype(np.int64)

    def curve(seed: int) -> list[float]:
        _, result = train_head(
            HeadGenome(32, 1, "tanh", "adam"), X[:60], y[:60], X[60:], y[60:],
            n_classes=2, max_epochs=4, patience=4, seed=seed,
        )  # fmt: skip
        return result.curves["loss"]

    alone = [curve(seed) for seed in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(curve, (1, 2)))
    for a, b in zip(alone, together, strict=True):
        assert a == pytest.approx(b, rel=1e-5)
