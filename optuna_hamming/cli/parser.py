"""The argument parser. Commands import their layers lazily, so ``--help`` is instant."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from optuna_hamming.cli.defaults import (
    DEFAULT_HEARTBEAT,
    DEFAULT_REPORTS,
    DEFAULT_STORAGE,
    DEFAULT_UI_URL,
    UI_PORT,
)
from optuna_hamming.names import (
    ACCELERATED,
    IMBALANCES,
    LAYER_CHOICES,
    LAYERS_MULTI,
    LAYERS_POOLED,
    NORMALISE_CHOICES,
    NORMALISE_NONE,
    NORMALISE_STANDARD,
    PAPER,
    PRESETS,
    RECOMMENDED,
    SAMPLER_ALIASES,
    SAMPLERS,
    VIEW_SET_NAMES,
    VIEWS_AUTO,
)


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


_positive, _non_negative = _int_at_least(1), _int_at_least(0)


def _folds(text: str) -> int:
    value = _int_at_least(2)(text)
    if value > 100:  # vision.fitness.MAX_FOLDS, not imported: --help stays instant
        raise argparse.ArgumentTypeError(f"expected at most 100 folds, got {value}")
    return value


def _run_search(args: argparse.Namespace) -> int:
    from optuna_hamming.cli.search import run_search

    return run_search(args)


def _run_show(args: argparse.Namespace) -> int:
    from optuna_hamming.cli.inspect import run_show

    return run_show(args)


def _run_report(args: argparse.Namespace) -> int:
    from optuna_hamming.cli.inspect import run_report

    return run_report(args)


def _run_dashboard(args: argparse.Namespace) -> int:
    from optuna_hamming.cli.servers import run_dashboard

    return run_dashboard(args)


def _run_ui(args: argparse.Namespace) -> int:
    from optuna_hamming.cli.servers import run_ui

    return run_ui(args)


def _study_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        help=f"Optuna storage URL (default {DEFAULT_STORAGE}); any RDB URL, or "
        "journal:PATH for a journal file, journal-redis:redis://HOST:PORT for one in Redis",
    )
    parser.add_argument(
        "--study-name",
        help="the study; default: the only study in the storage (search: <data>-<backbone>)",
    )


def _tracking_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default $MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)",
    )


def _host_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes "
        "the server, without authentication, to the network)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optuna-hamming",
        description="Classification heads on pre-trained CNN features, tuned by the "
        "Hamming-distance genetic algorithm, tracked in MLflow.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = commands.add_parser(
        "search",
        help="run the whole framework: features, the GA study, the final model",
        description="Extract (or read cached) CNN features, run the GA study over the "
        "paper's four genes, train the final model on the best genome and score it on the "
        "test split; log every trial, the generations, the plots and the model to MLflow. "
        "Running the same command again continues the study.",
    )
    search.add_argument(
        "--data",
        default="animal-mnist",
        help="animal-mnist (default, embedded), lfw, digits, a folder with one sub-folder "
        "per class, or an .npz of features (X, y)",
    )
    search.add_argument(
        "--imbalance",
        choices=IMBALANCES,
        default=None,
        help="paper: subsample the classes to the paper's Table II proportions (the default "
        "for animal-mnist, the paper's reproduction); none: use every image (the default for "
        "every other dataset and for your own folders)",
    )
    search.add_argument("--backbone", default=None, help="default: torchvision-mobilenet-v2")
    search.add_argument(
        "--weights",
        default="imagenet",
        help="imagenet (default), none, or a local weights file",
    )
    search.add_argument(
        "--image-size", type=_positive, default=None, help="backbone input size (default: its own)"
    )
    search.add_argument(
        "--preset",
        choices=PRESETS,
        default=PAPER,
        help=f"{PAPER} (default: the paper's configuration) or {RECOMMENDED} (what "
        "docs/results.md measures best: --sampler accelerated --fitness cv --folds 3 --final "
        "ensemble --ensemble-size 10 --views auto --linear-member yes --layers multi-layer "
        "--normalise standard). "
        "Options given "
        "explicitly override the preset; `show` and the MLflow run record every value it set",
    )
    search.add_argument(
        "--views",
        choices=(*VIEW_SET_NAMES, VIEWS_AUTO),
        default=None,
        help="augmented views of each image (default: the preset's; paper: none): heads "
        "train on every view, and an image is scored by its views' mean, in the search and "
        f"inside the exported model. {VIEWS_AUTO}: the set with the best cross-validated "
        "macro F1 of a logistic regression on train + validation (never test)",
    )
    search.add_argument(
        "--sampler",
        choices=(*SAMPLERS, *SAMPLER_ALIASES),
        default=None,
        help=f"default: the preset's. {PAPER} (Algorithm 1 as published) or {ACCELERATED} "
        "(optuna_hamming.recommended_sampler: the same operators, the archive and "
        "SurrogateScreening.lean(), which trains the children a model ranks best, 2 per "
        "generation after 10 genomes of a Latin hypercube; docs/results.md has the numbers). "
        f"{', '.join(SAMPLER_ALIASES)}: deprecated names of {ACCELERATED}. A study keeps the "
        "sampler settings it was started with",
    )
    search.add_argument("--population", type=_positive, default=30)
    search.add_argument("--generations", type=_positive, default=20)
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--n-jobs", type=_positive, default=1, help="trials run in threads")
    search.add_argument(
        "--heads-per-program",
        type=_positive,
        default=1,
        metavar="N",
        help="train N trials' heads together as one compiled JAX program (default 1: one by "
        "one, as the paper). On a GPU a batch of heads fills the device that one head leaves "
        "idle; best a divisor or multiple of --population. Needs KERAS_BACKEND=jax; not the "
        "training mini-batch, which is --batch-size",
    )
    search.add_argument(
        "--heartbeat",
        type=_non_negative,
        default=DEFAULT_HEARTBEAT,
        metavar="SECONDS",
        help=f"RDB storages: each running trial records a heartbeat every SECONDS (default "
        f"{DEFAULT_HEARTBEAT}); a trial whose worker died is failed after twice that plus "
        "60 s (the reconnection window) and retried by another worker. 0 turns it off",
    )
    search.add_argument(
        "--retries",
        type=_non_negative,
        default=2,
        help="how often a trial whose worker died is retried (default 2)",
    )
    _study_options(search)
    _tracking_option(search)
    search.add_argument(
        "--tracking-outage-wait",
        type=_non_negative,
        default=120,
        metavar="SECONDS",
        help="when the MLflow server stops answering, the first trial it cannot log waits "
        "this long for it (default 120); after that the search goes on and the runs are "
        "written once the server is back",
    )
    search.add_argument(
        "--mlflow-ui",
        metavar="URL",
        default=None,
        help="the MLflow UI of the tracking store, for the links in optuna-dashboard's trial "
        "notes (default: the tracking URI when it is a server, else "
        f"{DEFAULT_UI_URL}, where `optuna-hamming ui` serves it)",
    )
    search.add_argument("--max-epochs", type=_positive, default=200)
    search.add_argument("--patience", type=_non_negative, default=5)
    search.add_argument("--batch-size", type=_positive, default=32)
    search.add_argument(
        "--fitness",
        choices=("holdout", "cv"),
        default=None,
        help="how a head is scored (default: the preset's): holdout (the paper: macro F1 on "
        "one validation "
        "split) or cv (the mean macro F1 of --folds stratified folds of train + validation; "
        "--folds times the training, and a choice that holds on test)",
    )
    search.add_argument(
        "--folds",
        type=_folds,
        default=None,
        help="folds of --fitness cv, 2 to 100 (default: the preset's; paper: 5)",
    )
    search.add_argument(
        "--final",
        choices=("best", "ensemble"),
        default=None,
        help="the final model (default: the preset's): best (the paper: the best genome "
        "retrained) or "
        "ensemble (--ensemble-size greedy picks over the distinct genomes' out-of-fold "
        "predictions, Caruana et al. 2004, retrained and averaged; needs --fitness cv)",
    )
    search.add_argument(
        "--ensemble-size",
        type=_positive,
        default=None,
        help="greedy picks, with replacement, of --final ensemble (default: the preset's, 10)",
    )
    search.add_argument(
        "--layers",
        choices=LAYER_CHOICES,
        default=None,
        help=f"what the backbone hands the heads (default: the preset's; paper: "
        f"{LAYERS_POOLED}, its pooled last feature map). {LAYERS_MULTI}: that, the map's max "
        "pooling and a middle block's mean pooling side by side (the two offline backbones)",
    )
    search.add_argument(
        "--normalise",
        choices=NORMALISE_CHOICES,
        default=None,
        help=f"default: the preset's; paper: {NORMALISE_NONE}. {NORMALISE_STANDARD}: each "
        "feature to zero mean and unit variance over train + validation, the same "
        "Normalization layer in front of the exported head",
    )
    search.add_argument(
        "--linear-member",
        choices=("yes", "no"),
        default=None,
        help="yes: --final ensemble may also pick a logistic regression (C chosen by the "
        "study's folds) next to the searched heads (default: the preset's; paper: no)",
    )
    search.add_argument(
        "--cache-dir", default=None, help="feature cache (default ~/.cache/optuna-hamming)"
    )
    search.add_argument(
        "--register-model", metavar="NAME", help="also register the final model under NAME"
    )
    search.add_argument("--reports-dir", default=DEFAULT_REPORTS, help="where plots are written")
    search.add_argument(
        "--verbose",
        action="store_true",
        help="also show what TensorFlow, Optuna and MLflow print (start-up lines, warnings, "
        "a 'View run' line per trial on a tracking server)",
    )
    search.set_defaults(run=_run_search)

    show = commands.add_parser(
        "show", help="print a study's generations and best genomes", description=""
    )
    _study_options(show)
    show.add_argument("--top", type=_positive, default=5, help="best genomes to list")
    show.set_defaults(run=_run_show)

    report = commands.add_parser(
        "report",
        help="write the paper's figures and Optuna's plots of a study",
        description="Figures 2/3 (fitness of the retained per generation), Figures 4-8 (3D "
        "scatter of the first, a middle and the last generation), optimisation history and "
        "parameter importances, as PNG files; also logged to the study's MLflow run.",
    )
    _study_options(report)
    _tracking_option(report)
    report.add_argument("--out", default=DEFAULT_REPORTS, help="directory for the PNG files")
    report.add_argument(
        "--no-mlflow", action="store_true", help="only write the files, do not log them"
    )
    report.set_defaults(run=_run_report)

    dashboard = commands.add_parser(
        "dashboard", help="serve optuna-dashboard for the storage (on 127.0.0.1 unless --host)"
    )
    _study_options(dashboard)
    dashboard.add_argument("--port", type=_positive, default=8080)
    _host_option(dashboard)
    dashboard.set_defaults(run=_run_dashboard)

    ui = commands.add_parser(
        "ui", help="serve the MLflow UI for the tracking URI (on 127.0.0.1 unless --host)"
    )
    _tracking_option(ui)
    ui.add_argument("--port", type=_positive, default=UI_PORT)
    _host_option(ui)
    ui.set_defaults(run=_run_ui)
    return parser
