"""Probes of issue 37's levers on cheap heads: what the heads see (views, layers, pooling,
normalisation), scored on the protocol's splits (seeds 0-9 only; 10 and up stay out).

    python experiments/head_levers.py extract            # one backbone pass per view, cached
    KERAS_BACKEND=tensorflow python experiments/head_levers.py probe --seeds 0 1 2 \\
        --pairs animal-mnist-imbalanced:torchvision-mobilenet-v2 --block-views flip

TensorFlow for the trainable block: ``KERAS_BACKEND=jax python experiments/head_levers.py
block-epochs`` and the same under tensorflow time an epoch of it on each backend
(experiments/results/head_levers_block_epochs.jsonl).

Each backbone pass keeps several taps at once: the final pooled features, the mean and max
pooling of the final map, the mean pooling of two earlier blocks, and the activations of the
block below the last one (for a trainable top block).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from optuna_hamming.vision.cache import default_cache_dir
from optuna_hamming.vision.views import VIEWS

TAPS = {
    "torchvision-mobilenet-v2": {
        "final_map": "features_18_relu6",
        "mid": "features_13_add",
        "below_last": "features_16_add",
    },
    "efficientnet-lite0": {
        "final_map": "head_relu6",
        "mid": "block10_add",
        "below_last": "block14_add",
    },
}
PAIRS = [
    ("animal-mnist-imbalanced", "torchvision-mobilenet-v2"),
    ("animal-mnist-imbalanced", "efficientnet-lite0"),
    ("digits", "torchvision-mobilenet-v2"),
    ("digits", "efficientnet-lite0"),
]


def store(dataset: str, backbone: str, view: str) -> Path:
    return default_cache_dir() / "levers" / f"{dataset}-{backbone}-{view}.npz"


def extract(args: argparse.Namespace) -> None:
    import keras
    from paper_protocol import DATASETS

    from optuna_hamming.vision.backbones import build_backbone
    from optuna_hamming.vision.features import resize_images
    from optuna_hamming.vision.views import view_batch

    for dataset, backbone in PAIRS:
        images = DATASETS[dataset]()
        built = build_backbone(backbone)
        taps = TAPS[backbone]
        model = built.model
        outputs = [model.get_layer(name).output for name in taps.values()]
        tapped = keras.Model(model.input, outputs)
        for view in VIEWS:
            path = store(dataset, backbone, view)
            if path.is_file():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            parts: dict[str, list[np.ndarray]] = {k: [] for k in ("avg", "max", "mid", "below")}
            for first in range(0, len(images.images), 64):
                batch = view_batch(
                    resize_images(images.images[first : first + 64], built.image_size), view
                )
                final_map, mid, below = (
                    np.asarray(keras.ops.convert_to_numpy(o))
                    for o in tapped.predict_on_batch(batch)
                )
                parts["avg"].append(final_map.mean(axis=(1, 2)))
                parts["max"].append(final_map.max(axis=(1, 2)))
                parts["mid"].append(mid.mean(axis=(1, 2)))
                parts["below"].append(below.astype(np.float16))
            arrays = {k: np.concatenate(v) for k, v in parts.items()}
            np.savez(path, y=images.labels, **arrays)
            print(
                json.dumps(
                    {
                        "dataset": dataset,
                        "backbone": backbone,
                        "view": view,
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                ),
                flush=True,
            )


def load(dataset: str, backbone: str, views: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every tap of ``views``, stacked view-major: (views, images, ...)."""
    loaded = [np.load(store(dataset, backbone, v)) for v in views]
    out = {k: np.stack([d[k] for d in loaded]) for k in ("avg", "max", "mid", "below")}
    out["y"] = loaded[0]["y"]
    return out


def fitted_lr(X_views, y, fit_on, seed):  # type: ignore[no-untyped-def]
    """C by stratified 5-fold macro F1 on the original rows of ``fit_on``, then refitted on
    every view of them (the issue's probe)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, random_state=seed)),
        {"logisticregression__C": np.logspace(-4, 2, 7)},
        scoring="f1_macro",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        n_jobs=1,
    )
    search.fit(X_views[0][fit_on], y[fit_on])
    model = search.best_estimator_
    n_views = len(X_views)
    model.fit(np.concatenate([X[fit_on] for X in X_views]), np.tile(y[fit_on], n_views))
    return model, float(search.best_score_)


def tta(model, X_views, rows):  # type: ignore[no-untyped-def]
    return np.mean([model.predict_proba(X[rows]) for X in X_views], axis=0)


def top_block(backbone: str):  # type: ignore[no-untyped-def]
    """The backbone from its ``below_last`` tap to its pooled output, pretrained, BN frozen."""
    import keras

    from optuna_hamming.vision.backbones import build_backbone

    model = build_backbone(backbone).model
    below = model.get_layer(TAPS[backbone]["below_last"]).output
    block = keras.Model(below, model.get_layer("avg_pool").output)
    for layer in block.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return block


def block_head(backbone: str, n_classes: int, seed: int, lr: float):  # type: ignore[no-untyped-def]
    import keras

    keras.utils.set_random_seed(seed)
    block = top_block(backbone)
    inputs = keras.Input(block.input_shape[1:])
    x = block(inputs)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy")
    return model


def fit_block(backbone, below, y, train, val, test, n_classes, seed, lr, max_epochs):  # type: ignore[no-untyped-def]
    """Early stopping on the validation split (per-view loss), then refit on train +
    validation for the best epoch count; test scored by the mean of the views."""
    import keras
    from sklearn.metrics import f1_score

    n_views = len(below)

    def rows(index):  # type: ignore[no-untyped-def]
        return np.concatenate([b[index] for b in below]).astype(np.float32), np.tile(
            y[index], n_views
        )

    model = block_head(backbone, n_classes, seed, lr)
    Xt, yt = rows(train)
    Xv, yv = rows(val)
    stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        Xt,
        yt,
        validation_data=(Xv, yv),
        epochs=max_epochs,
        batch_size=32,
        callbacks=[stop],
        verbose=0,
    )
    best = int(np.argmin(history.history["val_loss"])) + 1
    val_probs = np.mean(
        [model.predict(b[val].astype(np.float32), verbose=0) for b in below], axis=0
    )
    val_f1 = f1_score(y[val], val_probs.argmax(1), average="macro")
    model = block_head(backbone, n_classes, seed, lr)
    fit_on = np.sort(np.concatenate([train, val]))
    Xa, ya = rows(fit_on)
    model.fit(Xa, ya, epochs=best, batch_size=32, verbose=0)
    probs = np.mean([model.predict(b[test].astype(np.float32), verbose=0) for b in below], axis=0)
    return probs, {
        "best_epoch": best,
        "val_f1": round(val_f1, 4),
        "seconds": round(time.perf_counter() - start, 1),
    }


def block_epochs(args: argparse.Namespace) -> None:
    """Seconds per epoch of the trainable top block on 1,024 cached rows (animal-mnist,
    MobileNetV2), three epochs after a warm-up, on this process's Keras backend."""
    import keras

    data = load("animal-mnist-imbalanced", "torchvision-mobilenet-v2", ("identity",))
    X, y = data["below"][0][:1024].astype(np.float32), data["y"][:1024]
    model = block_head("torchvision-mobilenet-v2", 10, 0, args.block_lr)
    model.fit(X[:64], y[:64], epochs=1, batch_size=32, verbose=0)  # compiles
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=32, verbose=0)
        seconds.append(round(time.perf_counter() - start, 2))
    print(json.dumps({"backend": keras.backend.backend(), "epoch_seconds": seconds}))


def probe(args: argparse.Namespace) -> None:
    from sklearn.metrics import f1_score

    from optuna_hamming.data.splits import stratified_splits
    from optuna_hamming.vision.views import VIEW_SETS

    for pair in args.pairs:
        dataset, backbone = pair.split(":")
        for seed in args.seeds:
            assert seed < 10, "protocol seeds 10 and up stay out of every choice"
            data = load(dataset, backbone, VIEW_SETS["flip-shifts"])
            y = data["y"]
            n_classes = int(y.max()) + 1
            splits = stratified_splits(y, seed=seed)
            fit_on, test = splits.train_and_validation, splits.test
            result: dict[str, object] = {"pair": pair, "seed": seed}
            probs: dict[str, np.ndarray] = {}
            for view_set in args.view_sets:
                index = [
                    ("identity", "flip", "shift-down-right", "shift-up-left").index(v)
                    for v in VIEW_SETS[view_set]
                ]
                for feats in args.features:
                    parts = [data[k][index] for k in feats.split("+")]
                    X_views = np.concatenate(parts, axis=2)
                    if args.l2:
                        X_views = X_views / np.linalg.norm(X_views, axis=2, keepdims=True)
                    model, cv = fitted_lr(X_views, y, fit_on, seed)
                    p = tta(model, X_views, test)
                    name = f"lr[{view_set},{feats}]"
                    probs[name] = p
                    result[name] = round(f1_score(y[test], p.argmax(1), average="macro"), 4)
                    result[name + ".cv"] = round(cv, 4)
                    print(json.dumps(result), flush=True)
            for view_set in args.block_views:
                index = [
                    ("identity", "flip", "shift-down-right", "shift-up-left").index(v)
                    for v in VIEW_SETS[view_set]
                ]
                below = data["below"][index]
                p, info = fit_block(
                    backbone,
                    below,
                    y,
                    splits.train,
                    splits.validation,
                    test,
                    n_classes,
                    seed,
                    args.block_lr,
                    args.max_epochs,
                )
                name = f"block[{view_set}]"
                probs[name] = p
                result[name] = round(f1_score(y[test], p.argmax(1), average="macro"), 4)
                result[name + ".info"] = info
                for other in [k for k in probs if k.startswith("lr")]:
                    mix = (p + probs[other]) / 2
                    result[f"{name}+{other}"] = round(
                        f1_score(y[test], mix.argmax(1), average="macro"), 4
                    )
                print(json.dumps(result), flush=True)
            with open(args.out, "a") as handle:
                handle.write(json.dumps(result) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["extract", "probe", "block-epochs"])
    parser.add_argument("--pairs", nargs="+", default=[f"{d}:{b}" for d, b in PAIRS])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--view-sets", nargs="+", default=["none", "flip"])
    parser.add_argument("--features", nargs="+", default=["avg"])
    parser.add_argument("--block-views", nargs="*", default=[])
    parser.add_argument("--block-lr", type=float, default=1e-4)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--l2", action="store_true")
    parser.add_argument("--out", default="/tmp/levers.jsonl")
    args = parser.parse_args()
    commands = {"extract": extract, "probe": probe, "block-epochs": block_epochs}
    commands[args.command](args)


if __name__ == "__main__":
    main()
