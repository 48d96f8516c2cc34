"""The final model of a search: the best genome retrained, scored, logged and reloaded."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from optuna_hamming.data import FeatureSet, LabeledImages, Splits


@dataclasses.dataclass
class FinalOutcome:
    trial: int
    params: dict[str, Any]
    epochs: int
    test: dict[str, float]
    model_uri: str
    run_id: str
    registered_version: str | None
    reload_agreement: float  # share of test examples the reloaded model labels the same

    def summary(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        scores = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in self.test.items())
        registered = (
            f"; registered as version {self.registered_version}" if self.registered_version else ""
        )
        return (
            f"final model (trial {self.trial}'s genome, {self.epochs} epochs on train + "
            f"validation), test split: {scores}\n  logged as {self.model_uri}{registered}; "
            f"reloaded with mlflow.pyfunc.load_model it labels {self.reload_agreement:.0%} of "
            "the test examples as the trained model does"
        )


def build_and_log_final_model(
    study: optuna.Study,
    tracker: Any,
    features: FeatureSet,
    splits: Splits,
    images: LabeledImages | None,
    args: argparse.Namespace,
    backbone: str,
    image_size: int,
) -> FinalOutcome:
    import keras

    from optuna_hamming.tracking.final_model import load_logged_model, log_final_model
    from optuna_hamming.vision import HeadGenome, image_classifier, train_final_model

    best = study.best_trial
    genome = HeadGenome.from_params(best.params)
    epochs = int(best.user_attrs.get("best_epoch") or args.max_epochs)
    print(f"training the final model: {genome.describe()}, {epochs} epochs", flush=True)
    final = train_final_model(
        genome, features, splits, epochs=epochs, batch_size=args.batch_size, seed=args.seed
    )
    if images is not None:
        from optuna_hamming.vision import build_backbone, default_cache_dir

        weights = None if args.weights == "none" else args.weights
        cache = default_cache_dir() if args.cache_dir is None else Path(args.cache_dir)
        extractor = build_backbone(
            backbone, weights=weights, image_size=image_size, cache_dir=cache
        )
        model = image_classifier(extractor.model, final.head, extractor.image_size)
        examples = images.images[splits.test].astype(np.float32)
        name = "image_classifier"
    else:
        model, examples, name = final.head, features.X[splits.test], "head"
    test = {
        "macro_f1": final.test.macro_f1,
        "weighted_f1": final.test.weighted_f1,
        "accuracy": final.test.accuracy,
    }
    logged = log_final_model(
        tracker,
        model,
        class_names=features.class_names,
        test_scores=test,
        params={**best.params, "epochs": epochs, "trial": best.number},
        example=examples[:4],
        report=final.report,
        confusion=final.confusion,
        name=name,
        registered_model_name=args.register_model,
    )
    # Reload what MLflow stored and compare its labels with the model in memory.
    sample = examples[: min(len(examples), 64)]
    pyfunc_model = load_logged_model(tracker, logged.model_uri)
    with contextlib.redirect_stdout(io.StringIO()):  # its predict draws a progress bar
        reloaded = pyfunc_model.predict(sample)
    expected = keras.ops.convert_to_numpy(model(sample, training=False))
    agreement = float(
        np.mean(np.argmax(np.asarray(reloaded), axis=-1) == np.argmax(expected, axis=-1))
    )
    return FinalOutcome(
        best.number,
        dict(best.params),
        epochs,
        test,
        logged.model_uri,
        logged.run_id,
        logged.registered_version,
        agreement,
    )
