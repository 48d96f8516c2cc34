"""What JAX's persistent compilation cache saves per head (``vision.compilation_cache``).

Trains heads of a few architectures of the paper's space through the project's objective
(early stopping, patience 5, up to 200 epochs) on the embedded default features, each with
three training seeds, once with the cache off and once with it on, interleaved head by head
in one process so both see the same machine. With the cache on, the first seed of an
architecture compiles and writes (a miss) and the later seeds read (hits), as in a genome table
or a study that meets an architecture again. Run it with ``KERAS_BACKEND=jax``.

    KERAS_BACKEND=jax python benchmarks/compilation_cache.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent))
GENOMES = [
    {"neurons": 32, "layers": 1, "activation": "relu", "optimizer": "rmsprop"},
    {"neurons": 128, "layers": 2, "activation": "elu", "optimizer": "adam"},
    {"neurons": 512, "layers": 3, "activation": "tanh", "optimizer": "nadam"},
    {"neurons": 1024, "layers": 2, "activation": "sigmoid", "optimizer": "sgd"},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "compilation_cache")
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import keras
    import optuna
    from _timing import machine
    from head_training import default_features
    from jax.experimental.compilation_cache import compilation_cache

    from optuna_hamming.data import stratified_splits
    from optuna_hamming.vision.compilation_cache import use_jax_compilation_cache
    from optuna_hamming.vision.objective import HeadObjective

    if keras.backend.backend() != "jax":
        raise SystemExit("the cache is JAX's: run with KERAS_BACKEND=jax")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    features, _ = default_features(None)
    splits = stratified_splits(features.y, seed=0)  # type: ignore[attr-defined]
    directory = Path(tempfile.mkdtemp(prefix="xla-cache-"))  # empty: every first seed misses
    use_jax_compilation_cache(directory)
    objective = HeadObjective(
        features,  # type: ignore[arg-type]
        splits,
        max_epochs=200,
        patience=5,
    )  # the cache is switched below, head by head

    def head(genome: dict[str, object], seed: int, cached: bool) -> tuple[float, int, float]:
        jax.config.update("jax_enable_compilation_cache", cached)
        compilation_cache.reset_cache()
        objective.seed = seed
        trial = optuna.trial.FixedTrial(genome)
        start = time.perf_counter()
        value = objective(trial)
        return time.perf_counter() - start, int(trial.user_attrs["epochs"]), value

    head(GENOMES[0], 99, False)  # the process's first head pays JAX's start-up; not counted
    rows = []
    for genome in GENOMES:
        for seed in range(args.seeds):
            off, epochs_off, value_off = head(genome, seed, False)
            on, epochs_on, value_on = head(genome, seed, True)
            rows.append(
                {
                    **genome,
                    "seed": seed,
                    "epochs": epochs_on,
                    "off_s": round(off, 3),
                    "on_s": round(on, 3),
                    "kind": "miss" if seed == 0 else "hit",
                    "same_result": epochs_off == epochs_on and value_off == value_on,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    hits = [r for r in rows if r["kind"] == "hit"]
    misses = [r for r in rows if r["kind"] == "miss"]
    summary = {
        "machine": machine(),
        "jax": jax.__version__,
        "keras": keras.__version__,
        "heads": len(rows),
        "median_off_s": statistics.median(r["off_s"] for r in rows),
        "median_hit_s": statistics.median(r["on_s"] for r in hits),
        "median_miss_s": statistics.median(r["on_s"] for r in misses),
        "median_hit_ratio": statistics.median(r["on_s"] / r["off_s"] for r in hits),
        "median_miss_ratio": statistics.median(r["on_s"] / r["off_s"] for r in misses),
        "all_same_result": all(r["same_result"] for r in rows),
        "cache_mb": round(sum(p.stat().st_size for p in directory.rglob("*")) / 1e6, 1),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = [
        f"Machine: {summary['machine']}; JAX {summary['jax']}, Keras {summary['keras']}.",
        "",
        "| heads | cache off s/head | cache on, hit | cache on, miss | hit/off | miss/off "
        "| same epochs and F1 |",
        "|---|---|---|---|---|---|---|",
        f"| {len(rows)} | {summary['median_off_s']:.2f} | {summary['median_hit_s']:.2f} "
        f"| {summary['median_miss_s']:.2f} | {summary['median_hit_ratio']:.2f} "
        f"| {summary['median_miss_ratio']:.2f} | {summary['all_same_result']} |",
        "",
        f"Medians over {len(hits)} hits and {len(misses)} misses; cache {summary['cache_mb']} MB "
        f"for {len(GENOMES)} architectures.",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
