"""``optuna-hamming search``: the whole framework, from images to a logged final model."""

from __future__ import annotations

import argparse
import contextlib
import errno
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.trial import TrialState

from optuna_hamming.cli.common import (
    FINAL_ATTR,
    StaleTrialHandler,
    check_tracking_server,
    open_storage,
)
from optuna_hamming.cli.defaults import DEFAULT_UI_URL
from optuna_hamming.cli.errors import Interrupted, UserError
from optuna_hamming.cli.final import (
    FinalOutcome,
    build_and_log_final_model,
    plan_final_model,
    print_wait_notice,
    stored_final_key,
)
from optuna_hamming.cli.optimize import check_batched, optimize_in_batches, optimize_one_by_one
from optuna_hamming.cli.output import print_generation_table
from optuna_hamming.cli.preset_options import (
    apply_preset,
    check_layers_of,
    check_views,
    chosen_views,
    views_to_extract,
)
from optuna_hamming.cli.quiet import library_chatter_kept_out
from optuna_hamming.cli.study_config import (
    Inputs,
    adopt_stored_imbalance,
    check_continuation,
    check_folds,
    load_inputs,
    resolved_imbalance,
    study_config,
    study_sampler,
)
from optuna_hamming.data import (
    FeatureSet,
    stratified_splits,
)
from optuna_hamming.names import (
    NORMALISE_STANDARD,
    SAMPLER_ALIASES,
)
from optuna_hamming.sampler.attributes import GENE_ATTR, GENERATION_ATTR
from optuna_hamming.storages import study_lock

if TYPE_CHECKING:
    from optuna_hamming.tracking import DatasetDescription


def run_search(args: argparse.Namespace) -> int:
    with library_chatter_kept_out(verbose=args.verbose):
        return _search(args)


def _search(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    args.preset_set = apply_preset(args)
    if args.sampler in SAMPLER_ALIASES:
        print(
            f"optuna-hamming search: warning: --sampler {args.sampler} is deprecated and will "
            f"be removed: pass --sampler {SAMPLER_ALIASES[args.sampler]} (the same sampler)",
            file=sys.stderr,
        )
        args.sampler = SAMPLER_ALIASES[args.sampler]
    imbalance_given = args.imbalance is not None
    args.imbalance = resolved_imbalance(args)
    # Imported here: TensorFlow and MLflow take seconds, `--help` should not.
    from optuna_hamming.tracking import StudyTracker, TrackingError, resolve_tracking_uri
    from optuna_hamming.vision import (
        HeadObjective,
        await_running_trials,
        use_jax_compilation_cache,
    )
    from optuna_hamming.vision.backbones import BACKBONES, DEFAULT_BACKBONE, default_image_size

    if args.final == "ensemble" and args.fitness != "cv":
        raise UserError(
            "--final ensemble chooses its members on out-of-fold predictions, which only "
            "--fitness cv makes (choosing on the validation split the search chose on would "
            "repeat its winner's curse): add --fitness cv"
        )
    backbone = args.backbone or DEFAULT_BACKBONE
    if backbone not in BACKBONES:
        raise UserError(f"unknown backbone {backbone!r}: use one of {', '.join(BACKBONES)}")
    if args.weights not in ("imagenet", "none") and not Path(args.weights).is_file():
        raise UserError(
            f"weights file {args.weights} does not exist: pass imagenet, none or a file"
        )
    check_layers_of(args, backbone)
    if args.heads_per_program > 1:
        check_batched(args)
    image_size = args.image_size or default_image_size(backbone)
    tracking_uri = resolve_tracking_uri(args.tracking_uri)
    check_tracking_server(tracking_uri)
    inputs = load_inputs(args)
    check_folds(inputs, args)
    check_views(inputs, args)
    if inputs.images is not None and args.weights not in ("imagenet", "none"):
        _check_weights(args, backbone, image_size)  # before a study or a run exists
    on_stale = StaleTrialHandler(max_retry=args.retries)
    storage = open_storage(args.storage, heartbeat=args.heartbeat, on_stale=on_stale)
    default_name = inputs.label if inputs.features is not None else f"{inputs.label}-{backbone}"
    study_name = args.study_name or default_name
    config = study_config(args, backbone, image_size)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        # The paper trains every head to early stopping; Optuna's default MedianPruner
        # would cut heads short on the first epochs' F1.
        pruner=optuna.pruners.NopPruner(),
        load_if_exists=True,
    )
    if not imbalance_given and adopt_stored_imbalance(study, args):
        inputs = load_inputs(args)
        check_folds(inputs, args)
        config = study_config(args, backbone, image_size)
    check_continuation(study, config)
    sampler, sampler_settings = study_sampler(study, args, config)
    study.sampler = sampler
    settings = {f"sampler.{k}": v for k, v in sampler_settings.as_params().items()}
    tracker = StudyTracker(
        tracking_uri=tracking_uri,
        run_params={**config, **settings, "storage": args.storage, "study_name": study_name},
        outage_wait=args.tracking_outage_wait,
        ui_url=args.mlflow_ui or (None if _served(tracking_uri) else DEFAULT_UI_URL),
    )
    try:
        tracker.start(study)
    except TrackingError as error:
        raise UserError(str(error)) from None
    on_stale.tracker = tracker
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    print(
        f"study {study_name!r} in {args.storage} ({'continuing, ' if done else ''}{done} "
        f"finished trials); MLflow run {tracker.parent_run_id} at {tracking_uri}",
        flush=True,
    )
    if _served(tracking_uri):
        print(
            f"MLflow experiment: {tracking_uri.rstrip('/')}/#/experiments/{tracker.experiment_id}",
            flush=True,
        )
    try:
        views = views_to_extract(args, study)
        features = chosen_views(args, study, _features(args, inputs, backbone, image_size, views))
        tracker.use_dataset(_dataset_description(features, inputs, args, backbone))
        splits = stratified_splits(features.y, seed=args.seed)
        standardisation = None
        if args.normalise == NORMALISE_STANDARD:
            from optuna_hamming.vision.normalisation import standardise

            features, standardisation = standardise(features, splits.train_and_validation)
        # On JAX, heads of an architecture met before load their compiled steps from disk.
        use_jax_compilation_cache(
            Path(args.cache_dir) / "jax-compilation" if args.cache_dir else None
        )
        try:
            objective = HeadObjective(
                features,
                splits,
                max_epochs=args.max_epochs,
                patience=args.patience,
                batch_size=args.batch_size,
                seed=args.seed,
                fitness=args.fitness,
                folds=args.folds,
            )
        except ValueError as error:  # checked by check_folds already; kept for safety
            raise UserError(str(error).replace("folds=", "--folds ")) from None
        if args.heads_per_program > 1:
            optimize_in_batches(study, sampler, tracker, features, splits, args)
        else:
            optimize_one_by_one(study, sampler, tracker, tracker.track(objective), args)
        print_generation_table(study)
        # Workers of one study all get here; the first builds the final model, and a
        # worker that finds it built (or being built) for this best trial leaves it. Once
        # the others' last heads are in, every worker sees the same best trial.
        await_running_trials(study, on_wait=print_wait_notice)
        plan = plan_final_model(study, features, splits, args)
        with study_lock(storage, study_name, "final-model", wait=0, stale_after=3600) as mine:
            built = study.user_attrs.get(FINAL_ATTR)
            if isinstance(built, dict) and stored_final_key(built) == plan.key:
                final = FinalOutcome(**built)
                print(f"the final model of {plan.describe()} is built: {final.model_uri}")
            elif not mine:
                print(
                    f"another worker builds the final model of {plan.describe()}: it will "
                    f"be in MLflow at {tracking_uri}"
                )
                return 0
            else:
                final = build_and_log_final_model(
                    plan, tracker, features, splits, inputs.images, args, backbone, image_size,
                    standardisation,
                )  # fmt: skip
                study.set_user_attr(FINAL_ATTR, final.summary())
        plots = _plots(study, tracker, Path(args.reports_dir) / study_name)
        tracker.finish("FINISHED")
    except OSError as error:
        tracker.finish("FAILED")
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise UserError(_disk_full(error, study, tracker, args)) from None
    except KeyboardInterrupt:
        tracker.finish("KILLED")
        kept = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        raise Interrupted(
            f"{kept} finished trials are kept in {args.storage} (study {study_name!r}) and "
            "in MLflow; run the same command again to continue."
        ) from None
    except BaseException:
        tracker.finish("FAILED")
        raise
    _print_summary(study, final, plots, args, tracking_uri, time.perf_counter() - started)
    return 0


def _served(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("http://", "https://"))


def _dataset_description(
    features: FeatureSet, inputs: Inputs, args: argparse.Namespace, backbone: str
) -> DatasetDescription:
    # Features extracted from images are the backbone's: the name says which, so that the
    # UI tells two backbones' studies of one image folder apart.
    from optuna_hamming.tracking import DatasetDescription

    name = features.name if inputs.features is not None else f"{features.name}/{backbone}"
    source = str(args.data) if args.data else name
    return DatasetDescription.of(name, features.X, features.y, features.class_names, source)


def _check_weights(args: argparse.Namespace, backbone: str, image_size: int) -> None:
    """Load a ``--weights`` file into the backbone now, so that a file of another network
    is refused before the study and its MLflow run are created."""
    from optuna_hamming.vision import build_backbone, default_cache_dir
    from optuna_hamming.vision.backbones import BackboneError

    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    try:
        build_backbone(backbone, weights=args.weights, image_size=image_size, cache_dir=cache)
    except BackboneError as error:
        raise UserError(str(error)) from None


def _disk_full(error: OSError, study: optuna.Study, tracker: Any, args: argparse.Namespace) -> str:
    # The artifact store is named even when the failed write was MLflow's copy of a file
    # from a temporary directory (error.filename is then that file, not the full disk).
    where = None
    if tracker.experiment_id is not None:
        with contextlib.suppress(Exception):
            where = tracker.client.get_experiment(tracker.experiment_id).artifact_location
    where = where or error.filename
    kept = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    return (
        f"no space left on the disk while writing to {where or 'the MLflow artifact store'} "
        f"({error.strerror}): free space there, or pass a "
        f"--tracking-uri on another disk. The study is intact: {kept} finished trials in "
        f"{args.storage} (study {study.study_name!r}); run the same command again to build "
        "the final model"
    )


def _features(
    args: argparse.Namespace, inputs: Inputs, backbone: str, image_size: int, view_set: str
) -> FeatureSet:
    if inputs.features is not None:
        print(f"features {inputs.features.X.shape} from {args.data}", flush=True)
        return inputs.features
    from optuna_hamming.data.datasets import MAX_IMAGE_PIXELS
    from optuna_hamming.vision import VIEW_SETS, default_cache_dir, view_features_for
    from optuna_hamming.vision.backbones import BackboneError

    assert inputs.images is not None
    images = inputs.images
    weights = None if args.weights == "none" else args.weights
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    sizes = np.bincount(images.labels).tolist()
    left_out = ""
    if images.skipped or images.too_large:
        left_out = (
            f"; left out: {images.skipped} unreadable files, {images.too_large} images over "
            f"{MAX_IMAGE_PIXELS:,} pixels"
        )
    print(f"{images.name}: {len(images.labels)} images, class sizes {sizes}{left_out}", flush=True)
    views = VIEW_SETS[view_set]
    try:
        features, reports = view_features_for(
            images,
            views,
            backbone=backbone,
            weights=weights,
            image_size=image_size,
            cache_dir=cache,
            progress=sys.stdout.isatty(),
            layers=args.layers,
        )
    except BackboneError as error:
        raise UserError(str(error)) from None
    except OSError as error:
        raise UserError(
            f"cannot write the feature cache under {cache} ({error}); pass a writable --cache-dir"
        ) from None
    for view, report in zip(views, reports, strict=True):
        how = "read from the cache" if report.cached else "extracted"
        of = "" if view == views[0] else f" of the view {view}"
        print(
            f"features {features.X.shape}{of} from {backbone} {how} in {report.seconds:.1f} s "
            f"({report.images_per_second:.0f} images/s)",
            flush=True,
        )
    return features


def _plots(study: optuna.Study, tracker: Any, directory: Path) -> list[Path]:
    from optuna_hamming.tracking.plots import save_figures, study_figures

    try:
        paths = save_figures(study_figures(study), directory)
    except OSError as error:
        raise UserError(
            f"cannot write plots to {directory} ({error}); pass a writable --reports-dir"
        ) from None
    tracker.client.log_artifacts(tracker.parent_run_id, str(directory), "plots")
    return paths


def _print_summary(
    study: optuna.Study,
    final: FinalOutcome,
    plots: list[Path],
    args: argparse.Namespace,
    tracking_uri: str,
    seconds: float,
) -> None:
    best = study.best_trial
    fitness = best.user_attrs.get("fitness", "holdout")
    scored = "validation" if fitness == "holdout" else f"{fitness[2:]}-fold CV"
    print(
        f"best genome: {best.params} gene {best.user_attrs.get(GENE_ATTR)} (trial "
        f"{best.number}, generation {best.user_attrs.get(GENERATION_ATTR)}): {scored} "
        f"macro F1 {best.value:.3f}"
    )
    print(final.describe())
    print(f"plots: {', '.join(str(p) for p in plots)}")
    tracking = "" if args.tracking_uri is None else f" --tracking-uri {tracking_uri}"
    print("look at it:")
    print(f"  optuna-hamming ui{tracking}    # MLflow UI on http://127.0.0.1:5000")
    print(
        f"  optuna-hamming dashboard --storage {args.storage} --study-name {study.study_name}"
        "    # optuna-dashboard on http://127.0.0.1:8080"
    )
    print(f"wall time {seconds:.0f} s")
