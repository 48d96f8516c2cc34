"""The validation macro F1 of every genome of the paper's space, with the project's objective.

All 784 genomes of Table I (7 widths x 4 depths x 4 activations x 7 optimizers), each trained
with ``--seeds`` training seeds by :class:`optuna_hamming.vision.HeadObjective` (up to 200
epochs, early stopping with patience 5, macro F1 on the validation split) on the embedded
default features: imbalanced animal-mnist (Table II proportions, seed 0) through the offline
ImageNet MobileNetV2. One CSV row per (genome, seed), appended as it is trained, so the
command can be stopped and rerun (it skips what the CSV holds) and split over machines with
``--shard I/N`` (not over cores: on a 2-core machine two JAX shards side by side trained
0.55-0.63 s per epoch each against 0.28 s for one alone, 768-unit heads; XLA already uses both
cores). The wide heads cost most: about 0.3 s an epoch at 768-1024 units here. On JAX the
compiled steps of each architecture are cached on disk, so seeds after the first skip XLA
compilation. ``experiments/sampler_comparison.py`` then compares samplers on the table
in seconds.

    KERAS_BACKEND=jax python experiments/genome_table.py              # all, 3 seeds (hours)
    python experiments/genome_table.py --seeds 0 --limit 5            # a quick look
    python experiments/genome_table.py --agreement                    # seed-to-seed noise
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from pathlib import Path

import keras
import numpy as np
import optuna
from scipy.stats import spearmanr
from tabular_tasks import genome_scores_by_seed

from optuna_hamming.data import load_animal_mnist, make_imbalanced, stratified_splits
from optuna_hamming.paper import ACTIVATIONS, LAYERS, NEURONS, OPTIMIZERS
from optuna_hamming.vision import use_jax_compilation_cache
from optuna_hamming.vision.features import features_for
from optuna_hamming.vision.objective import HeadObjective

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = (
    "neurons", "layers", "activation", "optimizer", "seed", "macro_f1", "weighted_f1",
    "accuracy", "epochs", "train_seconds", "backend",
)  # fmt: skip


def genomes() -> list[dict[str, object]]:
    return [
        {"neurons": n, "layers": depth, "activation": a, "optimizer": o}
        for n, depth, a, o in itertools.product(NEURONS, LAYERS, ACTIVATIONS, OPTIMIZERS)
    ]


def done_in(path: Path) -> set[tuple[str, ...]]:
    if not path.is_file():
        return set()
    with path.open() as handle:
        return {
            (r["neurons"], r["layers"], r["activation"], r["optimizer"], r["seed"])
            for r in csv.DictReader(handle)
        }


def seed_agreement(path: Path, *, best: int = 100) -> list[dict[str, object]]:
    """How much the training seed moves a genome's score, for each pair of complete seeds.

    Per pair (a, b): the Spearman correlation of the two seeds' scores over all genomes, the
    median absolute difference of one genome's score between them (over all genomes, and over
    the ``best`` genomes by their mean of the two), and the rank on seed b of seed a's best
    genome and on seed a of seed b's (1 = best). A seed that lacks some genome is left out.
    """
    everyone = len(genomes())
    by_seed = {s: v for s, v in sorted(genome_scores_by_seed(path).items()) if len(v) == everyone}
    rows: list[dict[str, object]] = []
    for a, b in itertools.combinations(by_seed, 2):
        keys = sorted(by_seed[a])
        x = np.array([by_seed[a][k] for k in keys])
        y = np.array([by_seed[b][k] for k in keys])
        gap = np.abs(x - y)
        top = np.argsort(-(x + y), kind="stable")[:best]

        def rank_of(index: int, on: np.ndarray) -> int:
            return int(np.sum(on > on[index])) + 1  # ties share the better rank

        best_a, best_b = int(np.argmax(x)), int(np.argmax(y))
        rows.append(
            {
                "seeds": f"{a}-{b}",
                "genomes": len(keys),
                "spearman": round(float(spearmanr(x, y).statistic), 4),
                "median_abs_diff": round(float(np.median(gap)), 4),
                f"median_abs_diff_best_{best}": round(float(np.median(gap[top])), 4),
                "best_of_first": " ".join(keys[best_a]),
                "best_of_first_score": round(float(x[best_a]), 4),
                "its_rank_on_second": rank_of(best_a, y),
                "best_of_second": " ".join(keys[best_b]),
                "its_rank_on_first": rank_of(best_b, x),
            }
        )
    return rows


def training_hours(path: Path) -> dict[int, tuple[int, float]]:
    """Each seed's number of heads and their summed pure training time in hours."""
    heads: dict[int, int] = {}
    seconds: dict[int, float] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            seed = int(row["seed"])
            heads[seed] = heads.get(seed, 0) + 1
            seconds[seed] = seconds.get(seed, 0.0) + float(row["train_seconds"] or 0)
    return {seed: (heads[seed], seconds[seed] / 3600) for seed in sorted(heads)}


def agreement_markdown(rows: list[dict[str, object]], best: int = 100) -> str:
    lines = [
        f"| seeds | Spearman | median abs diff | median abs diff, best {best} "
        "| best of first (score) | its rank on second | best of second | its rank on first |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seeds']} | {r['spearman']:.2f} | {r['median_abs_diff']:.3f} "
            f"| {r[f'median_abs_diff_best_{best}']:.3f} "
            f"| {r['best_of_first']} ({r['best_of_first_score']:.3f}) "
            f"| {r['its_rank_on_second']} | {r['best_of_second']} | {r['its_rank_on_first']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS / "genome_table.csv")
    parser.add_argument("--shard", default="0/1", help="I/N: train every N-th genome from I")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many heads")
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument(
        "--agreement",
        action="store_true",
        help="train nothing: compare the complete seeds of --out, write <out>_agreement.md",
    )
    args = parser.parse_args()
    if args.agreement:
        if not args.out.is_file():
            parser.error(f"--agreement reads {args.out}, which does not exist: make it first")
        rows = seed_agreement(args.out)
        if not rows:
            parser.error(f"{args.out} holds fewer than two seeds with all {len(genomes())} genomes")
        costs = "".join(
            f"seed {seed}: {heads} heads, {hours:.2f} h of training\n"
            for seed, (heads, hours) in training_hours(args.out).items()
        )
        table = agreement_markdown(rows) + "\n" + costs
        target = args.out.with_name(f"{args.out.stem}_agreement.md")
        target.write_text(table)
        print(table, end="")
        print(f"written to {target}")
        return
    shard, shards = (int(x) for x in args.shard.split("/"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    images = make_imbalanced(load_animal_mnist(), seed=0)
    features, _ = features_for(images, progress=True)
    splits = stratified_splits(features.y, seed=0)
    done = done_in(args.out)
    names = ("neurons", "layers", "activation", "optimizer")
    # Seed by seed, so that a stopped run leaves whole one-seed tables behind.
    todo = [
        (genome, seed)
        for seed in args.seeds
        for i, genome in enumerate(genomes())
        if i % shards == shard
        if (*(str(genome[k]) for k in names), str(seed)) not in done
    ][: args.limit]
    print(f"{len(done)} heads in {args.out}; training {len(todo)} on {keras.backend.backend()}")
    new_file = not args.out.is_file()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    use_jax_compilation_cache()  # on JAX: an architecture seen before skips compilation
    objectives = {
        seed: HeadObjective(
            features, splits, max_epochs=args.max_epochs, patience=args.patience, seed=seed
        )
        for seed in args.seeds
    }
    started = time.perf_counter()
    with args.out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for count, (genome, seed) in enumerate(todo, 1):
            trial = optuna.trial.FixedTrial(genome)
            value = objectives[seed](trial)
            attrs = trial.user_attrs
            writer.writerow(
                {
                    **genome,
                    "seed": seed,
                    "macro_f1": round(value, 6),
                    "weighted_f1": round(attrs["weighted_f1"], 6),
                    "accuracy": round(attrs["accuracy"], 6),
                    "epochs": attrs["epochs"],
                    "train_seconds": attrs["train_seconds"],
                    "backend": keras.backend.backend(),
                }
            )
            handle.flush()
            elapsed = time.perf_counter() - started
            print(
                f"{count}/{len(todo)} {genome} seed {seed}: macro F1 {value:.4f} "
                f"({elapsed / count:.1f} s per head)",
                flush=True,
            )


if __name__ == "__main__":
    main()
