"""What ``--preset`` fills in, and the options of what the heads see (views, layers) that
depend on the data and the backbone: checked before a study starts, chosen once per study."""

from __future__ import annotations

import argparse
from typing import Any

import optuna

from optuna_hamming.cli.common import VIEWS_CHOSEN_ATTR
from optuna_hamming.cli.errors import UserError
from optuna_hamming.cli.study_config import Inputs
from optuna_hamming.data import FeatureSet, stratified_splits
from optuna_hamming.names import LAYERS_POOLED, VIEWS_AUTO, VIEWS_FLIP_SHIFTS, VIEWS_NONE


def apply_preset(args: argparse.Namespace) -> dict[str, Any]:
    """Fill each option left out with ``--preset``'s value; return what the preset set.

    Imported here, not in the parser: the presets build samplers and models, and ``--help``
    stays instant."""
    from optuna_hamming.vision.presets import preset

    chosen = preset(args.preset)
    applied: dict[str, Any] = {}
    for option, value in chosen.values().items():
        if getattr(args, option, None) is None:
            setattr(args, option, value)
            applied[option] = value
    return applied


def check_views(inputs: Inputs, args: argparse.Namespace) -> None:
    """Views and layers are taken from images by the backbone: a features file has neither.
    A preset's are dropped with a note; asked for explicitly, they are refused."""
    if inputs.features is None:
        return
    for option, plain, what in (
        ("views", VIEWS_NONE, "transforms images before the backbone"),
        ("layers", LAYERS_POOLED, "reads layers of the backbone"),
    ):
        value = getattr(args, option)
        if value == plain:
            continue
        if option not in args.preset_set:
            raise UserError(
                f"--{option} {value} {what}, and {args.data} holds features already: drop "
                f"--{option}, or pass the images (a folder with one sub-folder per class)"
            )
        print(f"{option}: {plain} ({args.data} holds features, not images)", flush=True)
        setattr(args, option, plain)


def check_layers_of(args: argparse.Namespace, backbone: str) -> None:
    """Multi-layer features are defined for the offline backbones: a preset's falls back to
    the pooled features elsewhere, with a note; asked for explicitly, it is refused."""
    from optuna_hamming.vision.backbones.layer_taps import LAYER_TAPS, check_layers

    if args.layers == LAYERS_POOLED or backbone in LAYER_TAPS:
        return
    if "layers" in args.preset_set:
        print(f"layers: {LAYERS_POOLED} ({backbone} has no multi-layer taps)", flush=True)
        args.layers = LAYERS_POOLED
        return
    try:
        check_layers(args.layers, backbone)
    except ValueError as error:
        raise UserError(str(error)) from None


def views_to_extract(args: argparse.Namespace, study: optuna.Study) -> str:
    """The view set whose features the run needs: ``--views`` as given; with ``auto``, the
    set the study chose when it started, or every candidate view before it has chosen."""
    if args.views != VIEWS_AUTO:
        return str(args.views)
    chosen = study.user_attrs.get(VIEWS_CHOSEN_ATTR)
    if chosen is None:
        return VIEWS_FLIP_SHIFTS  # every view: the candidates are its subsets
    print(f"views {chosen['views']} (chosen when the study started)", flush=True)
    return str(chosen["views"])


def chosen_views(args: argparse.Namespace, study: optuna.Study, features: FeatureSet) -> FeatureSet:
    """``features`` with the views the study uses. With ``--views auto`` and no choice
    stored yet, the set with the best cross-validated score on train + validation, stored
    as a study attribute so that every worker and every continuation uses the same set."""
    from optuna_hamming.vision import VIEW_SETS
    from optuna_hamming.vision.view_choice import choose_views

    if args.views != VIEWS_AUTO or VIEWS_CHOSEN_ATTR in study.user_attrs:
        return features  # extracted with its views already (views_to_extract)
    splits = stratified_splits(features.y, seed=args.seed)
    choice = choose_views(features, splits, seed=args.seed)
    print(choice.describe(), flush=True)
    study.set_user_attr(VIEWS_CHOSEN_ATTR, {"views": choice.name, "scores": choice.scores})
    return features.only_views(VIEW_SETS[choice.name])
