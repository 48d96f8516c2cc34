"""What training from ``ShuffledBatches`` (a batch order of the head's own) costs per epoch.

``train_head`` feeds its heads through :class:`optuna_hamming.vision.training.ShuffledBatches`
so that no global random state is read or changed. The peer, in the same process, is Keras'
own ``fit(X, y, shuffle=True)`` on the same arrays, head and epochs. Alternating runs, median
seconds per fit and the ratio; one backend per run:

    python benchmarks/shuffled_batches.py                    # TensorFlow
    KERAS_BACKEND=jax python benchmarks/shuffled_batches.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    import keras
    import numpy as np
    from _timing import machine

    from optuna_hamming.vision.heads import HeadGenome, build_head
    from optuna_hamming.vision.training import ShuffledBatches

    # The shape of the embedded default's training split: 1,543 images x 1,280 features.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1543, 1280)).astype(np.float32)
    y = rng.integers(0, 10, 1543).astype(np.int64)
    genome = HeadGenome(512, 2, "relu", "adam")

    def fit(project: bool) -> float:
        model = build_head(genome, n_features=1280, n_classes=10, seed=0)
        start = time.perf_counter()
        if project:
            batches = ShuffledBatches(X, y, 32, 0)
            model.fit(batches, shuffle=False, epochs=args.epochs, verbose=0)
        else:
            model.fit(X, y, batch_size=32, shuffle=True, epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - start
        keras.backend.clear_session()
        return seconds

    fit(True), fit(False)  # compile and warm up both paths
    times: dict[str, list[float]] = {"project": [], "peer": []}
    for _ in range(args.repeats):
        times["project"].append(fit(True))
        times["peer"].append(fit(False))
    median = {k: statistics.median(v) for k, v in times.items()}
    backend = keras.backend.backend()
    summary = {
        "backend": backend,
        "machine": machine(),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "project_s": median["project"],
        "peer_s": median["peer"],
        "project_vs_peer": median["project"] / median["peer"],
        "runs": times,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"shuffled_batches.{backend}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{backend}: ShuffledBatches {median['project']:.2f} s, fit(shuffle=True) "
        f"{median['peer']:.2f} s per {args.epochs}-epoch fit (median of {args.repeats}); "
        f"ratio {summary['project_vs_peer']:.2f} [{summary['machine']}]"
    )


if __name__ == "__main__":
    main()
