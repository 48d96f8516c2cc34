"""``optuna-hamming show`` and ``report``: reading a study back."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import optuna

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import CONFIG_ATTR, FINAL_ATTR, open_storage, study_name_in
from optuna_hamming.cli.errors import UserError
from optuna_hamming.cli.output import print_generation_table
from optuna_hamming.sampler.attributes import GENE_ATTR, GENERATION_ATTR


def load_existing_study(args: argparse.Namespace) -> optuna.Study:
    storage = open_storage(args.storage)
    name = study_name_in(storage, args.study_name, args.storage)
    return optuna.load_study(study_name=name, storage=storage)


def run_show(args: argparse.Namespace) -> int:
    study = load_existing_study(args)
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for trial in trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))
    print(f"study {study.study_name!r} in {args.storage}: {len(trials)} trials ({counts})")
    config = study.user_attrs.get(CONFIG_ATTR)
    if config:
        print("options: " + ", ".join(f"{k}={v}" for k, v in config.items()))
    print_generation_table(study)
    archive = HammingGASampler.archive(study)
    if archive:
        by_gene: dict[str, optuna.trial.FrozenTrial] = {}
        for trial in trials:
            gene = trial.user_attrs.get(GENE_ATTR)
            if gene in archive and trial.value == archive[gene] and gene not in by_gene:
                by_gene[gene] = trial
        ranked = sorted(by_gene.items(), key=lambda item: -archive[item[0]])[: args.top]
        print(f"best {len(ranked)} of {len(archive)} distinct genomes:")
        for gene, trial in ranked:
            print(
                f"  {archive[gene]:.4f}  {gene}  {trial.params}  (trial {trial.number}, "
                f"generation {trial.user_attrs.get(GENERATION_ATTR)})"
            )
    final = study.user_attrs.get(FINAL_ATTR)
    if final:
        scores = ", ".join(f"{k} {v:.3f}" for k, v in final["test"].items())
        members = final.get("members")
        what = (
            f"an ensemble of trials {', '.join(_member_name(m) for m in members)}, "
            if members
            else f"trial {final['trial']}'s genome, "
        )
        print(f"final model: {what}{final['model_uri']} (test {scores})")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from optuna_hamming.tracking import StudyTracker, TrackingError
    from optuna_hamming.tracking.plots import save_figures, study_figures

    study = load_existing_study(args)
    directory = Path(args.out) / study.study_name
    try:
        paths = save_figures(study_figures(study), directory)
    except OSError as error:
        raise UserError(f"cannot write to {directory} ({error}); pass a writable --out") from None
    for path in paths:
        print(path)
    if not args.no_mlflow:
        tracker = StudyTracker(tracking_uri=args.tracking_uri)
        try:
            parent = tracker.start(study)
            tracker.client.log_artifacts(parent, str(directory), "plots")
            tracker.finish()
        except TrackingError as error:
            raise UserError(f"{error} (or pass --no-mlflow)") from None
        print(f"logged to MLflow run {parent} under plots/")
    return 0


def _member_name(member: dict[str, Any]) -> str:
    """A trial's number, or the linear member's kind (it is no trial)."""
    return str(member["trial"]) if int(member["trial"]) >= 0 else str(member.get("kind"))
