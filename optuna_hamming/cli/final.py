"""The final model of a search: the best genome retrained, scored, logged and reloaded."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from optuna_hamming.data import FeatureSet, LabeledImages, Splits
from optuna_hamming.sampler.attributes import GENE_ATTR, GENERATION_ATTR

if TYPE_CHECKING:  # Keras loads when a model is built, not for --help
    from optuna_hamming.vision.normalisation import Standardisation


@dataclasses.dataclass
class FinalOutcome:
    trial: int  # the best trial; of an ensemble, its heaviest member
    params: dict[str, Any]
    epochs: int
    test: dict[str, float]
    model_uri: str
    run_id: str
    registered_version: str | None
    reload_agreement: float  # share of test examples the reloaded model labels the same
    # Added with --final ensemble; summaries stored before read with these defaults.
    final: str = "best"
    key: str = ""
    members: list[dict[str, Any]] | None = None

    def summary(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        scores = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in self.test.items())
        registered = (
            f"; registered as version {self.registered_version}" if self.registered_version else ""
        )
        if self.members:
            trials = ", ".join(str(m["trial"]) for m in self.members)
            weights = ", ".join(f"{m['weight']:.2f}" for m in self.members)
            what = (
                f"an ensemble of {len(self.members)} genomes (trials {trials}, weights "
                f"{weights}), each retrained on train + validation"
            )
        else:
            what = f"trial {self.trial}'s genome, {self.epochs} epochs on train + validation"
        return (
            f"final model ({what}), test split: {scores}\n  logged as {self.model_uri}"
            f"{registered}; reloaded with mlflow.pyfunc.load_model it labels "
            f"{self.reload_agreement:.0%} of the test examples as the trained model does"
        )


@dataclasses.dataclass(frozen=True)
class FinalPlan:
    """What the final model will be, decided from the study before anything is trained."""

    study: optuna.Study
    kind: str  # best | ensemble
    members: list[Any]  # ensemble Members (empty for best)
    oof_macro_f1: float | None

    @property
    def key(self) -> str:
        """Names the model: a worker finding this key stored knows it is built."""
        if self.kind == "best":
            return f"best:{self.study.best_trial.number}"
        picks = ",".join(f"{m.candidate.trial}x{m.count}" for m in self.members)
        return f"ensemble:{picks}"

    def describe(self) -> str:
        if self.kind == "best":
            return f"trial {self.study.best_trial.number}'s genome"
        return f"an ensemble of {self.describe_members()}"

    def describe_members(self) -> str:
        """``5 genomes``, or ``4 genomes and the linear member``."""
        heads = sum(1 for m in self.members if m.candidate.is_head)
        linear = " and the linear member" if heads < len(self.members) else ""
        return f"{heads} genomes{linear}"


def print_wait_notice(running: int) -> None:
    """What a worker prints while :func:`optuna_hamming.vision.await_running_trials` waits."""
    print(
        f"waiting for {running} trial(s) other workers are training before choosing "
        "the final model",
        flush=True,
    )


def stored_final_key(built: dict[str, Any]) -> str:
    return str(built.get("key") or f"best:{built.get('trial')}")


def plan_final_model(
    study: optuna.Study, features: FeatureSet, splits: Splits, args: argparse.Namespace
) -> FinalPlan:
    if args.final != "ensemble":
        return FinalPlan(study, "best", [], None)
    from optuna_hamming.cli.errors import UserError
    from optuna_hamming.vision.ensemble import EnsembleError, select_members

    labels = features.y[splits.train_and_validation]
    extra = []
    if getattr(args, "linear_member", None) == "yes":
        from optuna_hamming.vision.ensemble import linear_candidate

        linear = linear_candidate(features, splits, folds=args.folds, seed=args.seed)
        print(
            f"linear member: logistic regression C={linear.params['C']:g}, out-of-fold "
            f"macro F1 {linear.value:.3f}",
            flush=True,
        )
        extra.append(linear)
    try:
        members, oof = select_members(study, labels, args.ensemble_size, extra)
    except EnsembleError as error:
        raise UserError(str(error)) from None
    return FinalPlan(study, "ensemble", members, oof)


def _train(plan: FinalPlan, features: FeatureSet, splits: Splits, args: argparse.Namespace) -> Any:
    from optuna_hamming.vision import HeadGenome, train_final_model
    from optuna_hamming.vision.ensemble import train_final_ensemble

    if plan.kind == "ensemble":
        print(
            f"training the final ensemble: {plan.describe_members()}, "
            f"out-of-fold macro F1 {plan.oof_macro_f1:.3f}",
            flush=True,
        )
        assert plan.oof_macro_f1 is not None
        return train_final_ensemble(
            plan.members,
            features,
            splits,
            oof_macro_f1=plan.oof_macro_f1,
            batch_size=args.batch_size,
            seed=args.seed,
        )
    best = plan.study.best_trial
    genome = HeadGenome.from_params(best.params)
    epochs = int(best.user_attrs.get("best_epoch") or args.max_epochs)
    print(f"training the final model: {genome.describe()}, {epochs} epochs", flush=True)
    return train_final_model(
        genome, features, splits, epochs=epochs, batch_size=args.batch_size, seed=args.seed
    )


def _member_rows(plan: FinalPlan) -> list[dict[str, Any]]:
    size = sum(m.count for m in plan.members)
    trials = {t.number: t for t in plan.study.get_trials(deepcopy=False)}
    return [
        {
            # The linear member is no trial: trial -1, kind logistic-regression, params {C}.
            "trial": m.candidate.trial,
            "kind": m.candidate.kind,
            "params": m.candidate.params,
            **(
                _genome_of(trials[m.candidate.trial])
                if m.candidate.trial >= 0
                else {"genome": None, "generation": None}
            ),
            "weight": m.count / size,
            "picks": m.count,
            "cv_macro_f1": m.candidate.value,
            "epochs": m.candidate.epochs,
        }
        for m in plan.members
    ]


def _genome_of(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The genome bits and generation of ``trial``, as the final-model run names them."""
    return {
        "genome": trial.user_attrs.get(GENE_ATTR),
        "generation": trial.user_attrs.get(GENERATION_ATTR),
    }


def build_and_log_final_model(
    plan: FinalPlan,
    tracker: Any,
    features: FeatureSet,
    splits: Splits,
    images: LabeledImages | None,
    args: argparse.Namespace,
    backbone: str,
    image_size: int,
    standardisation: Standardisation | None = None,
) -> FinalOutcome:
    """Train the planned final model, log it, and check its reload. With ``standardisation``
    (``--normalise standard``) the heads saw standardised features: the logged model takes
    raw features (or raw images), the same transform in front of the head."""
    import keras

    from optuna_hamming.tracking.final_model import load_logged_model, log_final_model
    from optuna_hamming.vision import image_classifier

    final = _train(plan, features, splits, args)
    head = final.head if standardisation is None else standardisation.in_front_of(final.head)
    if images is not None:
        from optuna_hamming.vision import build_backbone, default_cache_dir

        weights = None if args.weights == "none" else args.weights
        cache = default_cache_dir() if args.cache_dir is None else Path(args.cache_dir)
        from optuna_hamming.vision.backbones.layer_taps import with_layers

        extractor = with_layers(
            build_backbone(backbone, weights=weights, image_size=image_size, cache_dir=cache),
            args.layers,
        )
        # The views the heads were trained on, computed and averaged inside the model.
        model = image_classifier(extractor.model, head, extractor.image_size, features.views)
        examples = images.images[splits.test].astype(np.float32)
        name = "image_classifier"
    else:
        raw = features.X[splits.test]
        if standardisation is not None:  # the head's features were standardised: undo it
            raw = raw * standardisation.scale + standardisation.mean
        model, examples, name = head, raw, "head"
    test = {
        "macro_f1": final.test.macro_f1,
        "weighted_f1": final.test.weighted_f1,
        "accuracy": final.test.accuracy,
    }
    members = _member_rows(plan) if plan.kind == "ensemble" else None
    if members:
        heads = [m for m in members if int(m["trial"]) >= 0]
        heaviest = max(heads or members, key=lambda m: m["picks"])
        trial, params = int(heaviest["trial"]), dict(heaviest["params"])
        logged_params: dict[str, Any] = {
            "final": "ensemble",
            "ensemble_size": args.ensemble_size,
            "members": len(members),
            "member_trials": ",".join(str(m["trial"]) for m in members),
            "member_weights": ",".join(f"{m['weight']:.3f}" for m in members),
            "member_generations": ",".join(str(m["generation"]) for m in members),
            "member_genomes": ",".join(str(m["genome"]) for m in members),
            "oof_macro_f1": round(float(plan.oof_macro_f1 or 0.0), 5),
        }
        epochs = int(heaviest["epochs"])
    else:
        best = plan.study.best_trial
        trial, params, epochs = best.number, dict(best.params), final.epochs
        logged_params = {
            **best.params,
            "epochs": epochs,
            "trial": best.number,
            **_genome_of(best),
        }
    logged = log_final_model(
        tracker,
        model,
        class_names=features.class_names,
        test_scores=test,
        params=logged_params,
        example=examples[:4],
        report=final.report,
        confusion=final.confusion,
        name=name,
        registered_model_name=args.register_model,
        extra={"ensemble.json": {"members": members}} if members else None,
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
        trial,
        params,
        epochs,
        test,
        logged.model_uri,
        logged.run_id,
        logged.registered_version,
        agreement,
        final=plan.kind,
        key=plan.key,
        members=members,
    )
