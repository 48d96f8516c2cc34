"""What a new user meets first: a study from README's Python example continued by the CLI,
the imbalance default, and output free of library chatter."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import small_search
from PIL import Image

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.study_config import load_inputs, resolved_imbalance
from optuna_hamming.data import load_features_npz, stratified_splits
from tests.cli_helpers import run_cli


@pytest.mark.keras
def test_the_cli_continues_a_study_started_with_head_objective(tmp_path: Path) -> None:
    from optuna_hamming.vision import HeadObjective

    search = small_search(tmp_path, "from-python")
    features = load_features_npz(search.features)
    study = optuna.create_study(
        study_name=search.study_name,
        storage=search.storage,
        direction="maximize",
        sampler=HammingGASampler(population_size=4, seed=0),
    )
    study.optimize(
        HeadObjective(features, stratified_splits(features.y, seed=0), max_epochs=4, patience=1),
        n_trials=4,
    )
    code, out, err = run_cli(*search.argv("--generations", "2"))
    assert code == 0, err
    assert "continuing, 4 finished trials" in out
    continued = optuna.load_study(study_name=search.study_name, storage=search.storage)
    assert len(continued.trials) > 4 and len(HammingGASampler.generations(continued)) >= 2


def test_a_study_with_another_space_is_refused_naming_the_parameter(tmp_path: Path) -> None:
    search = small_search(tmp_path, "other-layers")
    study = optuna.create_study(
        study_name=search.study_name, storage=search.storage, direction="maximize"
    )
    # The paper's genes, but `layers` as a categorical (the CLI's own old copy of the space).
    study.enqueue_trial({"neurons": 32, "layers": 1, "activation": "relu", "optimizer": "adam"})
    study.optimize(
        lambda t: float(
            t.suggest_categorical("neurons", (32, 64, 128, 256, 512, 768, 1024))
            + t.suggest_categorical("layers", (1, 2, 3, 4))
            > 0
        ),
        n_trials=1,
    )
    code, _, err = run_cli(*search.argv("--generations", "1"))
    assert code == 2
    assert "parameter 'layers' is CategoricalDistribution" in err
    assert "the paper's space has IntDistribution(high=4" in err


def test_a_study_started_under_the_old_default_continues_with_it(tmp_path: Path) -> None:
    """Every study used to start under `--imbalance paper`; the same command continues it."""
    search = small_search(tmp_path, "old-default")
    assert run_cli(*search.argv("--generations", "1", "--imbalance", "paper"))[0] == 0
    code, out, err = run_cli(*search.argv("--generations", "2"))
    assert code == 0 and "continuing" in out, err
    code, _, err = run_cli(*search.argv("--generations", "2", "--imbalance", "none"))
    assert code == 2 and "imbalance='paper' (now 'none')" in err  # said outright: refused


def test_the_start_up_lines_are_held_back_and_the_rest_passed_on() -> None:
    from optuna_hamming.cli.quiet import _pass_on

    read_end, write_end = os.pipe()
    out_read, out_write = os.pipe()
    os.write(
        write_end,
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        b"I0000 port.cc:153] oneDNN custom operations are on.\n"
        b"E0000 cuda_dnn.cc:8] Unable to register cuDNN factory\n",
    )
    os.close(write_end)
    _pass_on(read_end, out_write)
    os.close(out_write)
    with os.fdopen(out_read, "rb") as passed:
        assert passed.read() == b"E0000 cuda_dnn.cc:8] Unable to register cuDNN factory\n"


def _folder(root: Path, classes: int, per_class: int) -> Path:
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c:02d}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c:02d}" / f"{i}.png")
    return root


def test_a_folder_keeps_every_image_by_default(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos", classes=16, per_class=5)  # 16: not Table II's 10
    args = argparse.Namespace(data=str(folder), imbalance=None, seed=0)
    args.imbalance = resolved_imbalance(args)
    assert args.imbalance == "none"
    inputs = load_inputs(args)
    assert inputs.images is not None and len(inputs.images.labels) == 80


@pytest.mark.parametrize(
    ("data", "given", "expected"),
    [
        ("animal-mnist", None, "paper"),
        ("lfw", None, "none"),
        ("digits", None, "none"),
        ("features.npz", None, "none"),
        ("lfw", "paper", "paper"),
        ("animal-mnist", "none", "none"),
    ],
)
def test_the_imbalance_default(data: str, given: str | None, expected: str) -> None:
    assert resolved_imbalance(argparse.Namespace(data=data, imbalance=given)) == expected


CHATTER = (
    "absl::InitializeLog",
    "oneDNN",
    "cpu_feature_guard",
    "ExperimentalWarning",
    "View run",
    "View experiment",
    "Creating initial MLflow database tables",
    "INFO mlflow",
    "alembic",
    "ms/step",  # a Keras progress bar
)


@pytest.mark.keras
@pytest.mark.slow
@pytest.mark.parametrize("verbose", [False, True])
def test_search_shows_its_own_lines_only(tmp_path: Path, verbose: bool) -> None:
    search = small_search(tmp_path, "quiet")
    argv = search.argv("--generations", "1", *(["--verbose"] if verbose else []))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "MLFLOW_"))}
    result = subprocess.run(
        [sys.executable, "-m", "optuna_hamming.cli", *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr
    assert "trial    0" in result.stdout and "final model" in result.stdout
    found = [line for line in CHATTER if line in shown]
    if verbose:
        assert found, "--verbose shows the libraries' lines again"
    else:
        assert not found, shown
