"""What a search study keeps for life: its options, checked when a run continues it."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import optuna

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import CONFIG_ATTR
from optuna_hamming.cli.errors import UserError
from optuna_hamming.data import (
    DatasetError,
    FeatureSet,
    LabeledImages,
    load_dataset,
    load_features_npz,
)
from optuna_hamming.names import (
    ACCELERATED,
    IMBALANCE_NONE,
    IMBALANCE_PAPER,
    LAYERS_POOLED,
    NORMALISE_NONE,
    PAPER,
    RECOMMENDED_SCREENING,
    SAMPLER_ALIASES,
    SCREENING_DEFAULTS,
    VIEWS_NONE,
)
from optuna_hamming.paper import space_mismatch
from optuna_hamming.sampler.configurations import SCREENINGS, sampler_named
from optuna_hamming.sampler.settings import Settings

# Options a study keeps for life: continuing it with other values would mix incomparable trials.
# The sampler's options (--sampler, --population) are not here: the study keeps its sampler
# settings in the library (HammingGASampler.settings_for), which decides for Python and the
# CLI alike (study_sampler).
FIXED_OPTIONS = (
    "data",
    "imbalance",
    "backbone",
    "weights",
    "image_size",
    "seed",
    "max_epochs",
    "patience",
    "batch_size",
    "fitness",
    "folds",
    "views",
    "layers",
    "normalise",
)
# What a study stored before an option existed was run with: its default then.
_OPTION_DEFAULTS = {
    "fitness": "holdout",
    "folds": None,
    "sampler": PAPER,
    "views": VIEWS_NONE,
    "layers": LAYERS_POOLED,
    "normalise": NORMALISE_NONE,
}
# The dataset whose default is the paper's class proportions (its reproduction); every other
# dataset, the user's folders above all, keeps all its images unless --imbalance paper.
PAPER_DATASET = "animal-mnist"


def resolved_imbalance(args: argparse.Namespace) -> str:
    """``--imbalance`` as given, else ``paper`` for the embedded animal-mnist, ``none`` else."""
    if args.imbalance is not None:
        return str(args.imbalance)
    return IMBALANCE_PAPER if args.data == PAPER_DATASET else IMBALANCE_NONE


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
        images = load_dataset(
            args.data, imbalanced=args.imbalance == IMBALANCE_PAPER, seed=args.seed
        )
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
        "screening": RECOMMENDED_SCREENING if args.sampler == ACCELERATED else None,
        "population": args.population,
        "seed": args.seed,
        "max_epochs": args.max_epochs,
        "patience": args.patience,
        "batch_size": args.batch_size,
        "fitness": args.fitness,
        "folds": args.folds if args.fitness == "cv" else None,
        "views": args.views,
        "layers": args.layers,
        "normalise": args.normalise,
        "final": args.final,
        "ensemble_size": args.ensemble_size if args.final == "ensemble" else None,
        "linear_member": args.linear_member if args.final == "ensemble" else None,
        "preset": args.preset,
        # What the preset filled in (options given explicitly are not here).
        "preset_set": ",".join(sorted(getattr(args, "preset_set", {}))),
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
    """The screening an accelerated study was started with (None for the paper's sampler):
    its config's, or the defaults' for a config stored before it had one (what
    ``--sampler recommended`` screened with before 2026-12-05)."""
    stored = study.user_attrs.get(CONFIG_ATTR)
    if not isinstance(stored, dict) or started_sampler(stored) != ACCELERATED:
        return None
    return str(stored.get("screening", SCREENING_DEFAULTS))


def started_sampler(stored: dict[str, Any]) -> str:
    """The ``--sampler`` a stored config was started with, by today's name."""
    name = str(stored.get("sampler", _OPTION_DEFAULTS["sampler"]))
    return SAMPLER_ALIASES.get(name, name)


def study_sampler(
    study: optuna.Study, args: argparse.Namespace, config: dict[str, Any]
) -> tuple[HammingGASampler, Settings]:
    """The sampler that runs ``study``: the one the options name, with the settings the study
    keeps. The library decides (``HammingGASampler.settings_for``): a study continued with
    other sampler options keeps its stored settings and a warning names each difference.
    A study this command started before the library stored settings gets them first from
    the options it stored. Returns the sampler and the settings it runs the study with;
    ``args.population`` and ``config`` then say what the study runs. Returns the sampler and
    the settings it runs the study with."""
    stored = study.user_attrs[CONFIG_ATTR]  # check_continuation stored it for a new study
    screening = stored_screening(study)
    if screening is not None and screening not in SCREENINGS:
        raise UserError(
            f"study {study.study_name!r} was started with the screening {screening!r}, which "
            f"this version does not know ({', '.join(SCREENINGS)}): continue it with the "
            "version that started it, or pass another --study-name"
        )
    if HammingGASampler.stored_settings(study) is None:
        started = sampler_named(
            started_sampler(stored),
            population_size=int(stored.get("population", args.population)),
            seed=args.seed,
            **({} if screening is None else {"screening": SCREENINGS[screening]()}),
        )
        started.settings_for(study)
    sampler = sampler_named(args.sampler, population_size=args.population, seed=args.seed)
    settings = sampler.settings_for(study)
    args.population = settings.population_size
    config.update(sampler=started_sampler(stored), screening=screening, population=args.population)
    return sampler, settings


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
