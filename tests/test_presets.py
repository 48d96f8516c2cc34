"""Presets: what each sets, explicit flags over them, and what a study and its MLflow run
record (issue 37); a recommended search on images with its views inside the logged model."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest

from optuna_hamming.cli.common import CONFIG_ATTR, VIEWS_CHOSEN_ATTR
from optuna_hamming.cli.parser import build_parser
from optuna_hamming.cli.preset_options import apply_preset
from optuna_hamming.data import load_digits_images
from optuna_hamming.names import (
    ACCELERATED,
    PAPER,
    RECOMMENDED,
    VIEW_SET_NAMES,
    VIEWS_AUTO,
    VIEWS_NONE,
    VIEWS_SHIFTS,
)
from optuna_hamming.vision.presets import preset
from tests.cli_helpers import run_cli, runs_by_role


def _parsed(*extra: str):  # type: ignore[no-untyped-def]
    args = build_parser().parse_args(["search", *extra])
    args.preset_set = apply_preset(args)
    return args


def test_the_paper_preset_is_the_default_and_sets_the_paper_configuration() -> None:
    args = _parsed()
    assert args.preset == PAPER
    assert (args.sampler, args.fitness, args.folds, args.final, args.views) == (
        PAPER, "holdout", 5, "best", VIEWS_NONE,
    )  # fmt: skip
    assert args.linear_member == "no"
    assert args.ensemble_size == 10
    assert set(args.preset_set) == set(preset(PAPER).values())


def test_explicit_flags_override_the_recommended_preset() -> None:
    args = _parsed("--preset", RECOMMENDED)
    assert (args.sampler, args.fitness, args.folds, args.final, args.views) == (
        ACCELERATED, "cv", 3, "ensemble", VIEWS_AUTO,
    )  # fmt: skip
    args = _parsed("--preset", RECOMMENDED, "--folds", "5", "--views", VIEWS_SHIFTS)
    assert (args.folds, args.views, args.fitness) == (5, VIEWS_SHIFTS, "cv")
    assert "folds" not in args.preset_set and "views" not in args.preset_set
    assert args.preset_set["fitness"] == "cv"
    with pytest.raises(ValueError, match=r"unknown preset 'fast'.*paper, recommended"):
        preset("fast")


def test_a_features_file_drops_the_presets_views_and_the_run_records_the_preset(
    tmp_path: Path,
) -> None:
    from conftest import small_search

    search = small_search(tmp_path, "preset")
    code, out, err = run_cli(
        *search.argv(
            "--preset", RECOMMENDED, "--generations", "1", "--folds", "2", "--sampler", PAPER
        )
    )
    assert code == 0, err
    assert "views: none (" in out and "holds features, not images" in out
    study = optuna.load_study(study_name="preset", storage=search.storage)
    config = study.user_attrs[CONFIG_ATTR]
    assert config["preset"] == RECOMMENDED and config["views"] == VIEWS_NONE
    assert (
        config["preset_set"] == "ensemble_size,final,fitness,layers,linear_member,normalise,views"
    )
    assert config["normalise"] == "standard"  # features from a file are standardised too
    assert config["layers"] == "pooled" and "layers: pooled (" in out
    assert config["linear_member"] == "yes" and "linear member: logistic regression C=" in out
    code, shown, _ = run_cli("show", "--storage", search.storage)
    assert code == 0 and f"preset={RECOMMENDED}" in shown and "final=ensemble" in shown
    parent = runs_by_role(search.tracking_uri, "preset")["study"][0]
    assert parent.data.params["preset"] == RECOMMENDED
    assert parent.data.params["fitness"] == "cv" and parent.data.params["folds"] == "2"


def _digit_folder(root: Path, per_class: int = 24) -> Path:
    """Real digits (three classes) as a folder of PNG files, one sub-folder per class."""
    from PIL import Image

    images = load_digits_images()
    for label in (0, 1, 7):
        (root / str(label)).mkdir(parents=True)
        chosen = np.flatnonzero(images.labels == label)[:per_class]
        for i in chosen:
            Image.fromarray(images.images[i]).save(root / str(label) / f"{i}.png")
    return root


# Not marked keras: the CLI runs on TensorFlow, its default backend, and the JAX pass of
# `make test` would repeat this minute for no new path (test_views covers both backends).
def test_recommended_on_images_chooses_views_and_exports_them_in_the_model(
    tmp_path: Path,
) -> None:
    folder = _digit_folder(tmp_path / "digits")
    argv = [
        "search", "--data", str(folder), "--preset", RECOMMENDED, "--image-size", "32",
        "--sampler", PAPER,  # explicit flags override the preset: four heads, not ten
        "--population", "4", "--generations", "1", "--max-epochs", "2", "--patience", "1",
        "--ensemble-size", "3",
        "--storage", f"sqlite:///{tmp_path}/optuna.db",
        "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
        "--cache-dir", str(tmp_path / "cache"), "--reports-dir", str(tmp_path / "reports"),
    ]  # fmt: skip
    code, out, err = run_cli(*argv)
    assert code == 0, err
    storage = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.load_study(study_name="digits-torchvision-mobilenet-v2", storage=storage)
    assert len(study.trials) == 4
    chosen = study.user_attrs[VIEWS_CHOSEN_ATTR]
    assert chosen["views"] in VIEW_SET_NAMES and set(chosen["scores"]) == set(VIEW_SET_NAMES)
    assert f"views {chosen['views']} (out-of-fold macro F1" in out
    # The logged model classifies raw images as the search's scoring did (the CLI checks
    # its pyfunc reload against the model in memory and says so).
    assert "labels 100% of the test examples as the trained model does" in out
    config = study.user_attrs[CONFIG_ATTR]
    assert config["sampler"] == PAPER and "sampler" not in config["preset_set"]
    # Every candidate view is cached, and a continuation keeps the set chosen at the start.
    code, again, err = run_cli(*argv)
    assert code == 0, err
    assert f"views {chosen['views']} (chosen when the study started)" in again
    assert "extracted" not in again
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    final = optuna.load_study(study_name="digits-torchvision-mobilenet-v2", storage=storage)
    model = mlflow.pyfunc.load_model(final.user_attrs["optuna_hamming.final_model"]["model_uri"])
    shape = model.metadata.get_input_schema().inputs[0].shape  # the folder's image size
    images = np.zeros((2, *shape[1:]), dtype=np.float32)
    assert np.asarray(model.predict(images)).shape == (2, 3)
