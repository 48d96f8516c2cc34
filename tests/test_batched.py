"""Heads trained together as one JAX program: the same heads as one by one, trials told as
HeadObjective tells them, and a worker killed mid-batch whose trials are retried."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import optuna
import pytest
from conftest import small_search, write_digit_features
from optuna.trial import TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.data import load_features_npz, stratified_splits
from optuna_hamming.tracking.dashboard_notes import read_note
from optuna_hamming.vision import HeadObjective
from optuna_hamming.vision.batched import (
    BatchedTrainingError,
    HeadTask,
    train_heads_together,
)
from optuna_hamming.vision.batched_study import optimize_in_batches
from optuna_hamming.vision.fitness import OOF_ATTR, FitnessData, decode_probabilities
from optuna_hamming.vision.heads import HeadGenome
from optuna_hamming.vision.training import DataSplit, train_head
from tests.cli_helpers import run_cli, runs_by_role

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.keras
jax_only = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="heads train together on JAX only"
)
# Mixed widths, depths, activations and optimizers: one never stops within the epochs, the
# others stop on their own validation loss at different epochs.
GENOMES = [
    HeadGenome(32, 1, "relu", "adam"),
    HeadGenome(256, 2, "elu", "rmsprop"),
    HeadGenome(512, 3, "tanh", "sgd"),
    HeadGenome(512, 2, "relu", "nadam"),
    HeadGenome(64, 4, "sigmoid", "adamax"),
]


def _digits(tmp_path: Path) -> tuple[DataSplit, int]:
    features = load_features_npz(write_digit_features(tmp_path / "digits.npz"))
    splits = stratified_splits(features.y, seed=0)
    X, y = features.X, features.y
    split = DataSplit(X[splits.train], y[splits.train], X[splits.validation], y[splits.validation])
    return split, len(features.class_names)


@jax_only
def test_heads_trained_together_stop_and_score_as_heads_trained_one_by_one(
    tmp_path: Path,
) -> None:
    split, n_classes = _digits(tmp_path)
    options = {"n_classes": n_classes, "max_epochs": 20, "patience": 3, "batch_size": 32}
    alone = [
        train_head(g, split.X_train, split.y_train, split.X_val, split.y_val, seed=11 + i,
                   **options)[1]
        for i, g in enumerate(GENOMES)
    ]  # fmt: skip
    together = train_heads_together(
        [HeadTask(g, 11 + i) for i, g in enumerate(GENOMES)], [split], **options
    )
    stops = [r.epochs for r in alone]
    assert len(set(stops)) >= 3 and max(stops) == 20  # heads left the program one by one
    for one, batched in zip(alone, together, strict=True):
        # Same initial weights, batch order, dropout stream and stopping rule: the same
        # epochs, and scores equal up to float rounding of a differently fused program.
        assert batched.result.epochs == one.epochs
        assert batched.result.best_epoch == one.best_epoch
        assert batched.result.scores.macro_f1 == pytest.approx(one.scores.macro_f1, abs=2e-3)
        for name in ("loss", "val_loss", "val_macro_f1"):
            np.testing.assert_allclose(
                batched.result.curves[name], one.curves[name], rtol=2e-3, atol=2e-3
            )


@jax_only
def test_heads_trained_together_on_views_score_each_image_by_its_views_mean(
    tmp_path: Path,
) -> None:
    features = load_features_npz(write_digit_features(tmp_path / "digits.npz"))
    rng = np.random.default_rng(0)
    noisy = (features.X + rng.normal(0, 0.1, features.X.shape)).astype(np.float32)
    viewed = type(features)(
        features.X, features.y, features.class_names, "digits", noisy[None], ("identity", "v")
    )
    splits = stratified_splits(features.y, seed=0)
    split = FitnessData.of(viewed, splits).holdout
    assert split.n_views == 2 and len(split.X_val) == 2 * len(split.y_val)
    options = {"n_classes": 10, "max_epochs": 8, "patience": 2, "batch_size": 32}
    for i, genome in enumerate(GENOMES[:2]):
        _, one = train_head(
            genome, split.X_train, split.y_train, split.X_val, split.y_val, seed=11 + i,
            n_views=2, **options,
        )  # fmt: skip
        (batched,) = train_heads_together([HeadTask(genome, 11 + i)], [split], **options)
        assert batched.result.epochs == one.epochs
        assert batched.probabilities.shape == (len(split.y_val), 10)  # one row per image
        assert batched.result.scores.macro_f1 == pytest.approx(one.scores.macro_f1, abs=2e-3)
        np.testing.assert_allclose(
            batched.result.curves["val_loss"], one.curves["val_loss"], rtol=2e-3, atol=2e-3
        )


@jax_only
def test_how_heads_are_grouped_does_not_change_any_head(tmp_path: Path) -> None:
    split, n_classes = _digits(tmp_path)
    tasks = [HeadTask(g, 5 + i) for i, g in enumerate(GENOMES[:3])]
    options = {"n_classes": n_classes, "max_epochs": 12, "patience": 2}
    together = train_heads_together(tasks, [split], **options)
    apart = [train_heads_together([t], [split], **options)[0] for t in tasks]
    for a, b in zip(together, apart, strict=True):
        assert a.result.epochs == b.result.epochs
        np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=1e-4, atol=1e-5)


@jax_only
@pytest.mark.parametrize("fitness", ["holdout", "cv"])
def test_a_batched_study_tells_the_trials_head_objective_tells(
    tmp_path: Path, fitness: str
) -> None:
    features = load_features_npz(write_digit_features(tmp_path / "digits.npz"))
    splits = stratified_splits(features.y, seed=0)
    options = {"max_epochs": 6, "patience": 2, "seed": 3, "fitness": fitness, "folds": 2}
    # Holdout: generation 0 and a batch of generation 1; CV: generation 0 (2 folds each).
    n_trials = 7 if fitness == "holdout" else 4

    def study() -> optuna.Study:
        return optuna.create_study(
            direction="maximize", sampler=HammingGASampler(population_size=4, seed=1)
        )

    one_by_one = study()
    one_by_one.optimize(HeadObjective(features, splits, **options), n_trials=n_trials)
    batched = study()
    told = optimize_in_batches(
        batched, features, splits, heads_per_program=4, n_trials=n_trials, **options
    )
    assert told == n_trials
    for a, b in zip(one_by_one.trials, batched.trials, strict=True):
        assert b.state == TrialState.COMPLETE and a.params == b.params
        assert set(a.user_attrs) == set(b.user_attrs)
        assert b.value == pytest.approx(a.value, abs=5e-3)
        assert b.user_attrs["epochs"] == a.user_attrs["epochs"]
        assert sorted(b.intermediate_values) == sorted(a.intermediate_values)
    assert HammingGASampler.generations(batched) == HammingGASampler.generations(one_by_one)
    if fitness == "cv":
        oof = decode_probabilities(batched.trials[0].user_attrs[OOF_ATTR])
        expected = decode_probabilities(one_by_one.trials[0].user_attrs[OOF_ATTR])
        np.testing.assert_allclose(oof, expected, atol=5e-3)


def test_batches_refuse_a_backend_other_than_jax(tmp_path: Path) -> None:
    if keras.backend.backend() == "jax":
        pytest.skip("this checks the refusal on the other backends")
    split, n_classes = _digits(tmp_path)
    with pytest.raises(BatchedTrainingError, match="KERAS_BACKEND=jax"):
        train_heads_together([HeadTask(GENOMES[0], 0)], [split], n_classes=n_classes)


@jax_only
@pytest.mark.slow
def test_a_worker_killed_mid_batch_leaves_trials_the_next_one_fails_and_retries(
    tmp_path: Path,
) -> None:
    from tests.batch_worker import batch_storage

    db, features = tmp_path / "batched.db", write_digit_features(tmp_path / "digits.npz")
    command = [sys.executable, "-m", "tests.batch_worker", str(db), "8", "400", str(features)]
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    worker = subprocess.Popen(command, cwd=ROOT, env=env)
    storage = batch_storage(str(db))
    try:
        deadline = time.monotonic() + 240
        while True:  # until the first batch is training: 4 RUNNING trials with epochs reported
            assert time.monotonic() < deadline and worker.poll() is None
            try:
                running = optuna.load_study(study_name="batched", storage=storage).get_trials(
                    deepcopy=False, states=(TrialState.RUNNING,)
                )
            except KeyError:
                running = []
            if len(running) == 4 and all(t.intermediate_values for t in running):
                break
            time.sleep(0.5)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    killed = sorted(t.number for t in running)
    time.sleep(2.5)  # past the grace period
    subprocess.run([*command[:4], "4", "6", str(features)], cwd=ROOT, env=env, check=True)
    study = optuna.load_study(study_name="batched", storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    for number in killed:
        assert trials[number].state == TrialState.FAIL
        (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == number]
        assert retry.state == TrialState.COMPLETE and retry.params == trials[number].params
    sampler = HammingGASampler(population_size=4, seed=0)
    assert sampler.close_finished_generations(study) >= 1  # generation 0 closes on the retries
    assert (
        sorted(HammingGASampler.generations(study)[0]["members"])
        == sorted(t.number for t in trials if t.state == TrialState.COMPLETE)[:4]
    )


@jax_only
def test_the_cli_trains_batches_and_logs_a_run_per_trial(tmp_path: Path) -> None:
    search = small_search(tmp_path, "batched")
    code, out, err = run_cli(*search.argv("--generations", "2", "--heads-per-program", "4"))
    assert code == 0, err
    assert "4 heads per program" in out
    study = optuna.load_study(study_name="batched", storage=search.storage)
    assert len(HammingGASampler.generations(study)) >= 2
    finished = [t for t in study.trials if t.state == TrialState.COMPLETE]
    runs = runs_by_role(search.tracking_uri, "batched")
    assert {int(r.data.params["trial_number"]) for r in runs["trial"]} == {
        t.number for t in study.trials
    }
    for run in runs["trial"]:
        trial = study.trials[int(run.data.params["trial_number"])]
        assert run.data.metrics["macro_f1"] == pytest.approx(trial.value)
        assert "val_macro_f1" in run.data.metrics and "epochs" in run.data.metrics
        assert run.info.run_id in read_note(study, trial)  # the note links the run
    assert len(runs["final-model"]) == 1 and len(finished) == len(study.trials)


def test_the_cli_refuses_batches_off_jax_or_with_threads(tmp_path: Path) -> None:
    search = small_search(tmp_path, "refused")
    if keras.backend.backend() != "jax":
        code, _, err = run_cli(*search.argv("--heads-per-program", "4"))
        assert code == 2 and "KERAS_BACKEND=jax" in err
    else:
        code, _, err = run_cli(*search.argv("--heads-per-program", "4", "--n-jobs", "2"))
        assert code == 2 and "--n-jobs" in err
    assert not Path(search.storage.removeprefix("sqlite:///")).exists()  # refused before a study


@jax_only
def test_a_pruned_head_leaves_its_batch_and_its_trial_is_pruned(tmp_path: Path) -> None:
    features = load_features_npz(write_digit_features(tmp_path / "digits.npz"))
    splits = stratified_splits(features.y, seed=0)
    options = {"max_epochs": 5, "patience": 2, "seed": 3}

    def study() -> optuna.Study:
        # Prunes a head after its second epoch whatever its score.
        return optuna.create_study(
            direction="maximize",
            sampler=HammingGASampler(population_size=4, seed=2),
            pruner=optuna.pruners.ThresholdPruner(upper=-1.0, n_warmup_steps=1),
        )

    one_by_one = study()
    one_by_one.optimize(HeadObjective(features, splits, **options), n_trials=4)
    batched = study()
    optimize_in_batches(batched, features, splits, heads_per_program=4, n_trials=4, **options)
    for a, b in zip(one_by_one.trials, batched.trials, strict=True):
        assert a.state == b.state == TrialState.PRUNED
        assert b.user_attrs["epochs"] == a.user_attrs["epochs"] == 2
        assert sorted(b.intermediate_values) == sorted(a.intermediate_values) == [0, 1]
