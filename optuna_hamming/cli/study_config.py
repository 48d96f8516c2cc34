"""What a search study keeps for life: its options, checked when a run continues it."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from optuna_hamming import SurrogateScreening
from optuna_hamming.cli.common import CONFIG_ATTR
from optuna_hamming.cli.errors import UserError
from optuna_hamming.data import (
    DatasetError,
    FeatureSet,
    LabeledImages,
    load_dataset,
    load_features_npz,
)
from optuna_hamming.paper import space_mismatch

# Options a study keeps for life: continuing it with other values would mix incomparable trials.
FIXED_OPTIONS = (
    "data",
    "imbalance",
    "backbone",
    "weights",
    "image_size",
    "sampler",
    "population",
    "seed",
    "max_epochs",
    "patience",
    "batch_size",
    "fitness",
    "folds",
)
# What a study stored before an option existed was run with: its default then.
_OPTION_DEFAULTS = {"fitness": "holdout", "folds": None, "sampler": "paper"}
# What `--sampler recommended` screens with: recommended_sampler's screening,
# SurrogateScreening.lean(initial_design="latin") since 2026-12-05. A study started before
# has no "screening" in its config and continues with what it started with,
# SurrogateScreening()'s defaults: a study keeps its sampler for life.
RECOMMENDED_SCREENING = "lean-latin"
SCREENINGS: dict[str, Callable[[], SurrogateScreening]] = {
    "lean-latin": lambda: SurrogateScreening.lean(initial_design="latin"),
    "defaults": SurrogateScreening,
}
# The dataset whose default is the paper's class proportions (its reproduction); every other
# dataset, the user's folders above all, keeps all its images unless --imbalance paper.
PAPER_DATASET = "animal-mnist"


def resolved_imbalance(args: argparse.Namespace) -> str:
    """``--imbalance`` as given, else ``paper`` for the embedded animal-mnist, ``none`` else."""
    if args.imbalance is not None:
        return str(args.imbalance)
    return "paper" if args.data == PAPER_DATASET else "none"


@dataclasses.dataclass
class Inputs:
    """What the search trains on: images (features extracted here) or a features file."""

    label: str
    images: LabeledImages | None
    features: FeatureSet | None


def adopt_stored_imbalance(study: optuna.Study, args: argparse.Namespace) -> bool:
    """Give ``args`` the imbalance ``study`` was started with, when it differs; True if so.

    For a study continued without ``--imbalance``: before the default became dataset-dependent
    every study was started under ``paper``, and the same command must continue it."""
    stored = study.user_attrs.get(CONFIG_ATTR)
    if not isinstance(stored, dict) or stored.get("imbalance") in (None, args.imbalance):
        return False
    args.imbalance = str(stored["imbalance"])
    return True


def load_inputs(args: argparse.Namespace) -> Inputs:
    try:
        if args.data.endswith(".npz"):
            return Inputs(Path(args.data).stem, None, load_features_npz(args.data))
        images = load_dataset(args.data, imbalanced=args.imbalance == "paper", seed=args.seed)
    except DatasetError as error:
        raise UserError(str(error)) from None
    label = args.data if not Path(args.data).is_dir() else Path(args.data).resolve().name
    return Inputs(label, images, None)


def study_config(args: argparse.Namespace, backbone: str, image_size: int) -> dict[str, Any]:
    data = args.data if not Path(args.data).exists() else str(Path(args.data).resolve())
    return {
        "data": data,
        "imbalance": args.imbalance,
        "backbone": backbone,
        "weights": str(args.weights),
        "image_size": image_size,
        "sampler": args.sampler,
        "screening": RECOMMENDED_SCREENING if args.sampler == "recommended" else None,
        "population": args.population,
        "seed": args.seed,
        "max_epochs": args.max_epochs,
        "patience": args.patience,
        "batch_size": args.batch_size,
        "fitness": args.fitness,
        "folds": args.folds if args.fitness == "cv" else None,
    }


def check_continuation(study: optuna.Study, config: dict[str, Any]) -> None:
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise UserError(
            f"study {study.study_name!r} exists and minimises; heads are scored by macro F1, "
            "which is maximised: pass another --study-name"
        )
    stored = study.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        # A study started elsewhere (README's Python example, a notebook): continued when
        # every trial used the paper's space, which is the one HeadObjective suggests from.
        expected = "holdout" if config["fitness"] == "holdout" else f"cv{config['folds']}"
        for trial in study.get_trials(deepcopy=False):
            mismatch = space_mismatch(trial.distributions)
            if mismatch is not None:
                raise UserError(
                    f"study {study.study_name!r} exists with another search space: trial "
                    f"{trial.number}'s {mismatch}; pass another --study-name"
                )
            scored = trial.user_attrs.get("fitness", "holdout")  # HeadObjective's FITNESS_ATTR
            if trial.state == optuna.trial.TrialState.COMPLETE and scored != expected:
                flags = (
                    "--fitness holdout"
                    if scored == "holdout"
                    else (f"--fitness cv --folds {scored[2:]}")
                )
                raise UserError(
                    f"study {study.study_name!r} was scored by {scored} (trial {trial.number}), "
                    f"not {expected}: continue it with {flags}, or pass another --study-name"
                )
        study.set_user_attr(CONFIG_ATTR, config)
        return
    changed = [k for k in FIXED_OPTIONS if stored.get(k, _OPTION_DEFAULTS.get(k)) != config.get(k)]
    if changed:
        what = ", ".join(
            f"{k}={stored.get(k, _OPTION_DEFAULTS.get(k))!r} (now {config.get(k)!r})"
            for k in changed
        )
        raise UserError(
            f"study {study.study_name!r} was started with {what}; rerun with its original "
            "options to continue it, or pass another --study-name"
        )


def stored_screening(study: optuna.Study) -> str | None:
    """The screening a ``--sampler recommended`` study was started with (None for the paper's
    sampler): its config's, or ``"defaults"`` for a config stored before it had one."""
    stored = study.user_attrs.get(CONFIG_ATTR)
    if not isinstance(stored, dict) or stored.get("sampler") != "recommended":
        return None
    return str(stored.get("screening", "defaults"))


def check_folds(inputs: Inputs, args: argparse.Namespace) -> None:
    """Refuse ``--folds`` above the smallest class of train + validation before a study is
    created, so that the rerun with fewer folds starts it afresh."""
    from optuna_hamming.data import stratified_splits
    from optuna_hamming.vision.fitness import cv_folds

    if args.fitness != "cv":
        return
    if inputs.features is not None:
        labels = inputs.features.y
    elif inputs.images is not None:
        labels = inputs.images.labels
    else:
        return
    try:
        splits = stratified_splits(labels, seed=args.seed)
    except ValueError:
        return  # too few examples to split: the search says so where it splits
    try:
        cv_folds(labels[splits.train_and_validation], args.folds, args.seed)
    except ValueError as error:
        raise UserError(str(error).replace("folds=", "--folds ")) from None
