"""Heads per minute on the paper's space: one by one (``train_head``, the objective's path)
against batches trained as one JAX program (``train_heads_together``), in one process.

The same random genomes of the paper's space (seeded), the same seeds, early stopping on,
on the embedded default features (imbalanced animal-mnist through the offline MobileNetV2,
cached after the first extraction). Reports the median of ``--repeats`` runs per mode and the
ratio to sequential, whether every head stopped at the same epoch in both modes, and the
process's resident memory after each of ``--memory-batches`` batches (flat is the target).

    KERAS_BACKEND=jax python benchmarks/batched_heads.py --heads 30 --batches 10 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heads", type=int, default=30)
    parser.add_argument("--batches", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--memory-batches", type=int, default=30)
    parser.add_argument("--memory-epochs", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/batched_heads")
    args = parser.parse_args()

    import keras
    import optuna
    from _timing import machine
    from head_training import current_rss_mb, default_features

    from optuna_hamming.data import stratified_splits
    from optuna_hamming.paper import suggest_paper_genome
    from optuna_hamming.vision.batched import HeadTask, train_heads_together
    from optuna_hamming.vision.heads import HeadGenome
    from optuna_hamming.vision.training import DataSplit, free_keras_memory, train_head

    if keras.backend.backend() != "jax":
        print("run with KERAS_BACKEND=jax", file=sys.stderr)
        return 2
    import jax

    # No persistent compilation cache (use_jax_compilation_cache is not called): each mode
    # pays its own compilations, as a new study does.
    cache = os.environ.get("OPTUNA_HAMMING_CACHE")
    features, _ = default_features(Path(cache) if cache else None)
    splits = stratified_splits(features.y, seed=0)  # type: ignore[attr-defined]
    X, y = features.X, features.y  # type: ignore[attr-defined]
    split = DataSplit(X[splits.train], y[splits.train], X[splits.validation], y[splits.validation])
    n_classes = len(features.class_names)  # type: ignore[attr-defined]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    genomes = [HeadGenome.from_params(suggest_paper_genome(study.ask())) for _ in range(args.heads)]
    options = {"n_classes": n_classes, "max_epochs": args.max_epochs, "patience": args.patience}

    def sequential() -> list[int]:
        epochs = []
        for i, genome in enumerate(genomes):
            _, result = train_head(
                genome, split.X_train, split.y_train, split.X_val, split.y_val, seed=i, **options
            )
            epochs.append(result.epochs)
            free_keras_memory()
        return epochs

    def batched(size: int) -> list[int]:
        epochs = []
        for first in range(0, len(genomes), size):
            tasks = [HeadTask(g, first + i) for i, g in enumerate(genomes[first : first + size])]
            epochs += [o.result.epochs for o in train_heads_together(tasks, [split], **options)]
            free_keras_memory()
        return epochs

    modes = {
        "sequential": sequential,
        **{f"batched-{b}": (lambda b=b: batched(b)) for b in args.batches},
    }
    rows = []
    reference: list[int] | None = None
    for name, run in modes.items():
        seconds, stops = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            stops = run()
            seconds.append(time.perf_counter() - started)
        median = statistics.median(seconds)
        reference = stops if reference is None else reference
        rows.append(
            {
                "mode": name,
                "median_seconds": round(median, 2),
                "heads_per_minute": round(60 * len(genomes) / median, 1),
                "epochs_trained": int(sum(stops)),
                "same_stops_as_sequential": stops == reference,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["heads_per_minute"]
    for row in rows:
        row["ratio_to_sequential"] = round(row["heads_per_minute"] / base, 2)

    memory = []
    size = args.batches[0]
    short = {**options, "max_epochs": args.memory_epochs}
    for b in range(args.memory_batches):
        tasks = [HeadTask(genomes[i % len(genomes)], 1000 + b * size + i) for i in range(size)]
        train_heads_together(tasks, [split], **short)
        free_keras_memory()
        memory.append(round(current_rss_mb(), 1))
    summary = {
        "machine": machine(),
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "keras": keras.__version__,
        "heads": args.heads,
        "max_epochs": args.max_epochs,
        "patience": args.patience,
        "rows": rows,
        "memory_batches_of": size,
        "rss_mb_after_each_batch": memory,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(summary, indent=1))
    lines = [
        f"# Heads per minute, one by one against one program ({summary['device']})",
        "",
        f"{summary['machine']}; JAX {summary['jax']}, Keras {summary['keras']}. {args.heads} "
        f"random genomes of the paper's space on the embedded default features, early stopping "
        f"(patience {args.patience}, at most {args.max_epochs} epochs), median of {args.repeats}.",
        "",
        "| mode | seconds | heads per minute | ratio | epochs trained | same stops |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['mode']} | {row['median_seconds']} | {row['heads_per_minute']} | "
            f"{row['ratio_to_sequential']}x | {row['epochs_trained']} | "
            f"{'yes' if row['same_stops_as_sequential'] else 'no'} |"
        )
    lines += [
        "",
        f"Resident memory after each of {args.memory_batches} batches of {size} heads "
        f"({args.memory_epochs} epochs each): first {memory[0]} MB, last {memory[-1]} MB, "
        f"max {max(memory)} MB.",
    ]
    Path(f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
