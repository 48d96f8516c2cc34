"""What MLflow and optuna-dashboard users read: run names, the dataset input, the trial and
study notes. Real sqlite MLflow stores and real Optuna storages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from mlflow.entities import Run

from optuna_hamming import HammingGASampler
from optuna_hamming.paper import synthetic_objective
from optuna_hamming.sampler.attributes import (
    GENE_ATTR,
    GENERATION_ATTR,
    ORIGIN_ATTR,
    PARENTS_ATTR,
)
from optuna_hamming.tracking import DatasetDescription, StudyTracker, trial_run_name
from optuna_hamming.tracking.dashboard_notes import (
    DashboardNotes,
    generation_table,
    read_note,
    trial_note,
)


def _runs(tracker: StudyTracker, role: str) -> list[Run]:
    assert tracker.experiment_id is not None
    runs = tracker.client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.`optuna_hamming.role` = '{role}'"
    )
    return sorted(runs, key=lambda r: int(r.data.tags.get("optuna.trial_number", -1)))


def _features(rows: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 8)).astype(np.float32), rng.integers(0, 3, rows)


def test_trial_run_names_read_as_trial_generation_and_genome() -> None:
    paper = {"neurons": 512, "layers": 2, "activation": "elu", "optimizer": "adam"}
    assert trial_run_name(41, paper, {GENERATION_ATTR: 3}) == "t41 g3 512x2 elu adam"
    assert trial_run_name(41, {}, {GENERATION_ATTR: 3}) == "t41 g3"  # not suggested yet
    other = {"lr": 0.000123456, "kind": "rf", "depth": 7}
    assert trial_run_name(5, other, {}) == "t5 lr=0.0001235 kind=rf depth=7"
    assert len(trial_run_name(1, {f"p{i}": "x" * 20 for i in range(30)}, {})) == 250


def test_the_dataset_digest_covers_every_row_and_the_labels() -> None:
    X, y = _features()
    names = ("cat", "dog", "fox")
    first = DatasetDescription.of("toy", X, y, names)
    assert first == DatasetDescription.of("toy", X.copy(), y.copy(), names)
    changed = X.copy()
    changed[37, 5] += 1e-3  # one value of one row, deep inside
    assert DatasetDescription.of("toy", changed, y, names).digest != first.digest
    relabelled = y.copy()
    relabelled[-1] = (relabelled[-1] + 1) % 3
    assert DatasetDescription.of("toy", X, relabelled, names).digest != first.digest
    assert first.class_counts == {n: int((y == i).sum()) for i, n in enumerate(names)}


def test_runs_carry_readable_names_and_the_dataset_input(tmp_path: Path) -> None:
    X, y = _features()
    dataset = DatasetDescription.of("toy-features", X, y, ("a", "b", "c"), "/data/toy.npz")
    tracker = StudyTracker(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", dataset=dataset)
    sampler = HammingGASampler(population_size=6, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler, study_name="named")
    study.optimize(tracker.track(synthetic_objective), n_trials=9)
    # The callback path (an objective it does not wrap) names its runs the same way.
    study.optimize(synthetic_objective, n_trials=3, callbacks=[tracker])

    (parent,) = _runs(tracker, "study")
    trials = _runs(tracker, "trial")
    assert len(trials) == 12
    for run, trial in zip(trials, study.trials, strict=True):
        p = trial.params
        generation = trial.user_attrs[GENERATION_ATTR]
        expected = (
            f"t{trial.number} g{generation} {p['neurons']}x{p['layers']} "
            f"{p['activation']} {p['optimizer']}"
        )
        assert run.info.run_name == expected
    for run in [parent, *trials]:
        (logged,) = run.inputs.dataset_inputs
        assert logged.dataset.name == "toy-features"
        assert logged.dataset.digest == dataset.digest
        assert json.loads(logged.dataset.source) == {"uri": "/data/toy.npz"}
        profile = json.loads(logged.dataset.profile)
        assert profile["class_counts"] == dict(dataset.class_counts)
        assert profile["num_rows"] == 60 and profile["num_features"] == 8
        assert {t.key: t.value for t in logged.tags} == {"mlflow.data.context": "training"}


def test_a_dataset_known_after_the_study_run_starts_reaches_it_once(tmp_path: Path) -> None:
    tracker = StudyTracker(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    study = optuna.create_study(direction="maximize", sampler=HammingGASampler(seed=1))
    tracker.start(study)
    X, y = _features(seed=2)
    tracker.use_dataset(DatasetDescription.of("late", X, y, ("a", "b", "c")))
    tracker.use_dataset(DatasetDescription.of("late", X, y, ("a", "b", "c")))  # a rerun
    (parent,) = _runs(tracker, "study")
    assert [d.dataset.name for d in parent.inputs.dataset_inputs] == ["late"]


def test_trial_notes_say_how_the_ga_made_each_genome_and_link_the_run(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/optuna.db"
    tracker = StudyTracker(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", ui_url="http://mlflow.example:5000/"
    )
    sampler = HammingGASampler(population_size=6, seed=3)
    study = optuna.create_study(
        storage=storage, direction="maximize", sampler=sampler, study_name="noted"
    )

    def close(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        sampler.close_finished_generations(study)

    study.optimize(
        tracker.track(synthetic_objective),
        n_trials=18,
        callbacks=[close, DashboardNotes(tracker.run_url)],
    )
    reloaded = optuna.load_study(study_name="noted", storage=storage)
    runs = {int(r.data.tags["optuna.trial_number"]): r for r in _runs(tracker, "trial")}
    children = 0
    for trial in reloaded.trials:
        note = read_note(reloaded, trial)
        attrs = trial.user_attrs
        assert note.startswith(f"### Trial {trial.number}, generation {attrs[GENERATION_ATTR]}")
        assert f"**Genome** `{attrs[GENE_ATTR]}`" in note
        assert f"neurons = {trial.params['neurons']}" in note
        assert f"**Score** {trial.value:.4f}" in note
        run_id = runs[trial.number].info.run_id
        link = f"http://mlflow.example:5000/#/experiments/{tracker.experiment_id}/runs/{run_id}"
        assert f"**MLflow run:** [{link}]({link})" in note
        if attrs[ORIGIN_ATTR] == "initial":
            assert "a random genome of the first generation" in note
        else:
            children += 1
            for parent in attrs[PARENTS_ATTR]:
                assert f"trial {parent} ({reloaded.trials[parent].value:.3f})" in note
    assert children >= 6
    # The study note is the generation table of every closed generation.
    generations = HammingGASampler.generations(reloaded)
    assert len(generations) >= 2
    assert read_note(reloaded) == generation_table(generations)
    for g, summary in generations.items():
        assert f"| {g} | {len(summary['members'])} | {summary['best']:.4f} |" in read_note(reloaded)


def test_the_study_note_is_not_rolled_back_by_a_worker_that_read_fewer_generations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sampler = HammingGASampler(population_size=4, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(synthetic_objective, n_trials=13)
    sampler.close_finished_generations(study)
    generations = HammingGASampler.generations(study)
    DashboardNotes()(study, study.trials[-1])
    assert read_note(study) == generation_table(generations)
    # A stale table (one generation fewer) is what a slower worker would write; it is refused.
    from optuna_hamming.tracking import dashboard_notes

    stale = dict(list(generations.items())[:-1])
    monkeypatch.setattr(dashboard_notes, "read_generations", lambda study: stale)
    DashboardNotes()(study, study.trials[0])
    assert read_note(study) != generation_table(stale)
    assert read_note(study) == generation_table(generations)


@pytest.mark.parametrize(
    ("origin", "words"),
    [
        ("forced_mutation", "forced mutation of trial 2 (0.500) and trial 3"),
        ("crossover+mutation", "crossover of trial 2 (0.500) and trial 3, then mutation"),
        ("enqueued", "enqueued by hand"),
        ("something-new", "**Made by** something-new."),
    ],
)
def test_a_note_names_every_origin_in_words(origin: str, words: str) -> None:
    trial = optuna.trial.create_trial(
        params={"x": 1},
        distributions={"x": optuna.distributions.IntDistribution(0, 3)},
        value=0.25,
        user_attrs={ORIGIN_ATTR: origin, PARENTS_ATTR: [2, 3], GENERATION_ATTR: 1},
    )
    note = trial_note(trial, {2: 0.5, 3: None})
    assert words in note and "MLflow run" not in note


def test_readmes_search_runs_compares_genomes_across_studies(tmp_path: Path) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    X, y = _features()
    dataset = DatasetDescription.of("toy", X, y, ("a", "b", "c"))
    for seed in (0, 1):
        tracker = StudyTracker(tracking_uri=uri, dataset=dataset)
        study = optuna.create_study(
            study_name=f"seed-{seed}",
            direction="maximize",
            sampler=HammingGASampler(population_size=4, seed=seed),
        )
        study.optimize(tracker.track(synthetic_objective), n_trials=8)
    mlflow.set_tracking_uri(uri)
    try:
        # As README "MLflow" shows it: every trial run on these features, in any study.
        runs = mlflow.search_runs(
            search_all_experiments=True,
            filter_string=(
                f"tags.`optuna_hamming.role` = 'trial' and dataset.digest = '{dataset.digest}'"
            ),
            order_by=["metrics.macro_f1 DESC"],
        )
    finally:
        mlflow.set_tracking_uri(None)
    assert len(runs) == 16
    assert set(runs["tags.optuna.study_name"]) == {"seed-0", "seed-1"}
    by_genome = runs.groupby("params.ga.gene")["metrics.macro_f1"].agg(["count", "max"])
    assert by_genome["count"].sum() == 16
    assert list(runs["metrics.macro_f1"]) == sorted(runs["metrics.macro_f1"], reverse=True)
