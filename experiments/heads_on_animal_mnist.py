"""From raw images to a saved classifier, offline: the Keras layer end to end.

Imbalanced animal-mnist (Table II proportions) -> ImageNet MobileNetV2 features (the offline
torchvision port, cached) -> an Optuna study with HammingGASampler training heads (macro F1 on
the validation split) -> the best genome retrained on train + validation and scored on the test
split -> one .keras file with backbone and head, reloaded in safe mode, classifying raw images.

    python experiments/heads_on_animal_mnist.py --population 10 --generations 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np
import optuna

from optuna_hamming import HammingGASampler
from optuna_hamming.data import load_animal_mnist, make_imbalanced, stratified_splits
from optuna_hamming.sampler.attributes import GENE_ATTR
from optuna_hamming.vision import (
    HeadObjective,
    export_image_classifier,
    train_final_model,
    use_jax_compilation_cache,
)
from optuna_hamming.vision.backbones import build_backbone
from optuna_hamming.vision.features import features_for
from optuna_hamming.vision.heads import HeadGenome

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--out", type=Path, default=RESULTS / "heads_on_animal_mnist")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()

    images = make_imbalanced(load_animal_mnist(), seed=args.seed)
    counts = np.bincount(images.labels).tolist()
    print(f"{images.name}: {len(images.labels)} images, class sizes {counts}")
    features, report = features_for(images, image_size=args.image_size, progress=True)
    how = "read from cache" if report.cached else "extracted"
    print(
        f"features {features.X.shape} {how} in {report.seconds:.1f} s "
        f"({report.images_per_second:.0f} images/s)"
    )

    splits = stratified_splits(features.y, seed=args.seed)
    use_jax_compilation_cache()  # on JAX: an architecture seen before skips compilation
    objective = HeadObjective(
        features, splits, max_epochs=args.max_epochs, patience=args.patience, seed=args.seed
    )
    sampler = HammingGASampler(population_size=args.population, seed=args.seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    search_start = time.perf_counter()
    while len(HammingGASampler.generations(study)) < args.generations:
        study.optimize(objective, n_trials=1)
    search_seconds = time.perf_counter() - search_start
    best = study.best_trial
    genome = HeadGenome.from_params(best.params)
    print(
        f"{len(study.trials)} heads in {search_seconds:.0f} s; best validation macro F1 "
        f"{best.value:.3f}: {genome.describe()} (gene {best.user_attrs[GENE_ATTR]})"
    )

    final = train_final_model(
        genome, features, splits, epochs=best.user_attrs["best_epoch"], seed=args.seed
    )
    print(
        f"final model, test split: macro F1 {final.test.macro_f1:.3f}, weighted F1 "
        f"{final.test.weighted_f1:.3f}, accuracy {final.test.accuracy:.3f}"
    )

    backbone = report.backbone or build_backbone(image_size=args.image_size)
    path = export_image_classifier(
        backbone.model, final.head, backbone.image_size, args.out.with_suffix(".keras")
    )
    classifier = keras.saving.load_model(path, safe_mode=True)
    raw = images.images[splits.test].astype(np.float32)
    predicted = np.concatenate(
        [
            np.asarray(
                keras.ops.convert_to_numpy(
                    keras.ops.argmax(classifier(raw[i : i + 64], training=False), axis=-1)
                )
            )
            for i in range(0, len(raw), 64)
        ]
    )
    raw_accuracy = float((predicted == images.labels[splits.test]).mean())
    print(
        f"reloaded {path.name} ({path.stat().st_size / 1e6:.1f} MB) classifies the raw "
        f"28x28 test images: accuracy {raw_accuracy:.3f}"
    )
    summary = {
        "backend": keras.backend.backend(),
        "dataset": images.name,
        "class_sizes": counts,
        "image_size": args.image_size,
        "features": {
            "shape": list(features.X.shape),
            "cached": report.cached,
            "seconds": report.seconds,
        },
        "population": args.population,
        "generations": args.generations,
        "trials": len(study.trials),
        "search_seconds": search_seconds,
        "best": {
            "params": best.params,
            "gene": best.user_attrs[GENE_ATTR],
            "validation_macro_f1": best.value,
            "trial": best.number,
        },
        "test": {
            "macro_f1": final.test.macro_f1,
            "weighted_f1": final.test.weighted_f1,
            "accuracy": final.test.accuracy,
            "raw_image_accuracy": raw_accuracy,
        },
        "confusion": final.confusion,
        "wall_seconds": time.perf_counter() - started,
    }
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    path.unlink()  # the model is ~10 MB: results keep its scores, not the file
    print(f"wrote {args.out.with_suffix('.json')} (wall {summary['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
