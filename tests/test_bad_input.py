"""Everything a user can get wrong, one row each: the message, the exit code, what is kept.

The "Bad input" table of docs/reliability.md lists the same rows (``test_docs_list_every_row``
keeps the two in step). Each row's check does the wrong thing for real and asserts the outcome.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import write_digit_features
from mlflow import MlflowClient
from PIL import Image

from optuna_hamming import HammingGASampler, SurrogateScreening
from optuna_hamming.cli import main
from optuna_hamming.cli.common import CONFIG_ATTR
from optuna_hamming.cli.parser import build_parser
from optuna_hamming.cli.preset_options import apply_preset
from optuna_hamming.cli.study_config import resolved_imbalance, study_config
from optuna_hamming.names import ACCELERATED, RECOMMENDED, VIEWS_FLIP
from optuna_hamming.sampler.attributes import SCREENED_ATTR, claim_key
from tests.cli_helpers import run_cli, runs_by_role
from tests.helpers import paper_objective

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Row:
    id: str
    what: str  # what the user did
    shown: str  # the part of the message the check asserts
    outcome: str  # exit code, or the exception
    kept: str
    check: Callable[[Path], None]


def _base(tmp: Path) -> list[str]:
    return [
        "search",
        "--storage", f"sqlite:///{tmp}/optuna.db",
        "--tracking-uri", f"sqlite:///{tmp}/mlflow.db",
        "--reports-dir", str(tmp / "reports"),
        "--population", "4", "--max-epochs", "2",
    ]  # fmt: skip


def _cli_refuses(*extra: str, shown: str) -> Callable[[Path], None]:
    def check(tmp: Path) -> None:
        code, _, err = run_cli(*_base(tmp), *extra)
        assert code == 2, err
        assert shown in err and "Traceback" not in err, err

    return check


def _with_tmp(argv: Callable[[Path], list[str]], shown: str) -> Callable[[Path], None]:
    """Like _cli_refuses, for arguments that name files under the test's directory."""

    def check(tmp: Path) -> None:
        _cli_refuses(*argv(tmp), shown=shown)(tmp)

    return check


def _argparse_refuses(*extra: str, shown: str) -> Callable[[Path], None]:
    def check(tmp: Path) -> None:
        err = io.StringIO()
        with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(err):
            main(["search", *extra])
        assert exit_info.value.code == 2 and shown in err.getvalue()

    return check


def _a_file(tmp: Path) -> Path:
    """A regular file: a directory "inside" it cannot be created, even by root (unlike
    a chmod-ed directory), which is how these tests make a place unwritable."""
    path = tmp / "a-file"
    path.write_text("not a directory")
    return path


def _features(tmp: Path, X: np.ndarray, y: np.ndarray) -> str:
    path = tmp / "features.npz"
    np.savez(path, X=X, y=y)
    return str(path)


def _image_folder(tmp: Path, sizes: dict[str, int], garbage: bool = False) -> str:
    root = tmp / "images"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name, count in sizes.items():
        (root / name).mkdir()
        for i in range(count):
            if garbage:
                (root / name / f"{i}.jpg").write_bytes(b"not an image")
            else:
                pixels = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / name / f"{i}.png")
    return str(root)


def _study_exists(direction: str, space: bool) -> Callable[[Path], None]:
    """A study of the same name exists, minimising or with another search space."""

    def check(tmp: Path) -> None:
        storage = f"sqlite:///{tmp}/optuna.db"
        study = optuna.create_study(study_name="taken", storage=storage, direction=direction)
        study.optimize(lambda t: t.suggest_float("x", 0, 1) if space else 0.5, n_trials=2)
        features = write_digit_features(tmp / "pixels.npz")
        code, _, err = run_cli(*_base(tmp), "--data", str(features), "--study-name", "taken")
        assert code == 2
        assert ("minimises" if direction == "minimize" else "another search space") in err
        if space:  # the message names the parameter and its distribution
            assert "parameter 'x'" in err and "FloatDistribution" in err
        assert len(optuna.load_study(study_name="taken", storage=storage).trials) == 2

    return check


def _folds_above_class(tmp: Path) -> None:
    """Refused before the study is created, so the rerun with fewer folds starts afresh."""
    data = _features(tmp, np.random.default_rng(0).random((40, 4)), np.repeat([0, 1], [30, 10]))
    code, _, err = run_cli(*_base(tmp), "--data", data, "--fitness", "cv", "--folds", "9")
    assert code == 2 and "pass --folds 8 or fewer" in err, err
    assert optuna.get_all_study_names(f"sqlite:///{tmp}/optuna.db") == []
    code, _, err = run_cli(
        *_base(tmp), "--data", data, "--fitness", "cv", "--folds", "8", "--generations", "1"
    )
    assert code == 0, err


def _python_study_other_fitness(tmp: Path) -> None:
    from optuna_hamming.data import load_features_npz, stratified_splits
    from optuna_hamming.vision import HeadObjective

    features_path = write_digit_features(tmp / "pixels.npz")
    features = load_features_npz(str(features_path))
    storage = f"sqlite:///{tmp}/optuna.db"
    study = optuna.create_study(study_name="notebook", storage=storage, direction="maximize")
    objective = HeadObjective(
        features, stratified_splits(features.y), max_epochs=1, fitness="cv", folds=3
    )
    study.optimize(objective, n_trials=1)
    code, _, err = run_cli(*_base(tmp), "--data", str(features_path), "--study-name", "notebook")
    assert code == 2 and "was scored by cv3 (trial 0), not holdout" in err, err
    assert len(optuna.load_study(study_name="notebook", storage=storage).trials) == 1


def _study_stored_without(tmp: Path, *options: str) -> tuple[str, list[str]]:
    """A study whose stored options lack ``options``, as one started before they existed
    stored them; returns its storage and the command line that continues it."""
    storage = f"sqlite:///{tmp}/optuna.db"
    study = optuna.create_study(study_name="started", storage=storage, direction="maximize")
    features = write_digit_features(tmp / "pixels.npz")
    argv = [*_base(tmp), "--data", str(features), "--study-name", "started"]
    args = build_parser().parse_args(argv)
    args.preset_set = apply_preset(args)  # as `search` fills the options left to the preset
    args.imbalance = resolved_imbalance(args)
    old = study_config(args, "torchvision-mobilenet-v2", 224)
    for option in options:
        del old[option]
    study.set_user_attr(CONFIG_ATTR, old)
    return storage, argv


def _changed_fitness(tmp: Path) -> None:
    """A study stored before --fitness existed was a holdout study: it continues as one."""
    _, argv = _study_stored_without(tmp, "fitness", "folds")
    code, _, err = run_cli(*argv, "--fitness", "cv")
    assert code == 2 and "fitness='holdout' (now 'cv'), folds=None (now 5);" in err, err
    assert "seed=" not in err  # only what changed is named
    assert run_cli(*argv, "--generations", "1")[0] == 0  # and it continues as a holdout study


def _changed_sampler(tmp: Path) -> None:
    """A study keeps its sampler settings, and the library decides as it does from Python: a
    paper study continued with --sampler accelerated runs on as the paper's, and a warning
    names each difference. One stored before --sampler existed ran the paper's."""
    storage, argv = _study_stored_without(tmp, "sampler")
    code, _, err = run_cli(*argv, "--generations", "1", "--sampler", ACCELERATED)
    assert code == 0, err
    assert "keeps the sampler settings it was started with" in err, err
    assert "child_generation.class='PaperGeneration' (this sampler: 'ScreenedGeneration')" in err
    study = optuna.load_study(study_name="started", storage=storage)
    stored = HammingGASampler.stored_settings(study)
    assert stored is not None and stored["child_generation"]["class"] == "PaperGeneration"
    assert study.trials and not any(SCREENED_ATTR in t.user_attrs for t in study.trials)


def _unknown_screening(tmp: Path) -> None:
    """An accelerated study whose stored screening this version does not know (a
    later version started it): refused rather than continued with another."""
    storage, argv = _study_stored_without(tmp)
    study = optuna.load_study(study_name="started", storage=storage)
    config = {**study.user_attrs[CONFIG_ATTR], "sampler": ACCELERATED, "screening": "later"}
    study.set_user_attr(CONFIG_ATTR, config)
    code, _, err = run_cli(*argv, "--sampler", ACCELERATED)
    assert code == 2 and "the screening 'later', which this version does not know" in err, err
    assert len(optuna.load_study(study_name="started", storage=storage).trials) == 0


def _changed_options(tmp: Path) -> None:
    storage = f"sqlite:///{tmp}/optuna.db"
    study = optuna.create_study(study_name="started", storage=storage, direction="maximize")
    features = write_digit_features(tmp / "pixels.npz")
    study.set_user_attr(CONFIG_ATTR, {"seed": 0, "data": str(features.resolve())})
    code, _, err = run_cli(
        *_base(tmp), "--data", str(features), "--study-name", "started", "--seed", "7"
    )
    assert code == 2 and "seed=0 (now 7)" in err and "original options" in err
    assert optuna.load_study(study_name="started", storage=storage).user_attrs[CONFIG_ATTR] == {
        "seed": 0,
        "data": str(features.resolve()),
    }


def _show_refuses(study_name: str | None, shown: str) -> Callable[[Path], None]:
    def check(tmp: Path) -> None:
        storage = f"sqlite:///{tmp}/optuna.db"
        for name in ("first", "second"):
            optuna.create_study(study_name=name, storage=storage)
        argv = ["show", "--storage", storage]
        code, _, err = run_cli(*argv, *(["--study-name", study_name] if study_name else []))
        assert code == 2 and shown in err, err

    return check


def _report_unwritable(tmp: Path) -> None:
    storage = f"sqlite:///{tmp}/optuna.db"
    study = optuna.create_study(
        study_name="done",
        storage=storage,
        direction="maximize",
        sampler=HammingGASampler(population_size=4, seed=0),
    )
    study.optimize(paper_objective, n_trials=12)
    out = _a_file(tmp) / "plots"
    code, _, err = run_cli("report", "--storage", storage, "--out", str(out), "--no-mlflow")
    assert code == 2 and "pass a writable --out" in err
    assert len(optuna.load_study(study_name="done", storage=storage).trials) == 12


def _sampler_refuses(
    error: type[Exception], shown: str, **kwargs: object
) -> Callable[[Path], None]:
    def check(tmp: Path) -> None:
        with pytest.raises(error, match=shown):
            HammingGASampler(**kwargs)  # type: ignore[arg-type]

    return check


def _screening_refuses(
    error: type[Exception], shown: str, **kwargs: object
) -> Callable[[Path], None]:
    def check(tmp: Path) -> None:
        with pytest.raises(error, match=shown):
            SurrogateScreening(**kwargs)  # type: ignore[arg-type]

    return check


def _positional(tmp: Path) -> None:
    with pytest.raises(TypeError, match="positional"):
        HammingGASampler(30)  # type: ignore[misc]


def _multi_objective(tmp: Path) -> None:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=HammingGASampler())
    with pytest.raises(ValueError, match="NSGAIISampler"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.0), n_trials=1)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL]


def _claim_from_newer_version(tmp: Path) -> None:
    url = f"sqlite:///{tmp}/claims.db"
    study = optuna.create_study(storage=url, direction="maximize", study_name="newer")
    # What a later version might store for child 0 of generation 0: not an owner number.
    newer = {"owner": 3, "format": 2}
    study._storage.set_study_system_attr(study._study_id, claim_key(0, 0), newer)
    study.sampler = HammingGASampler(population_size=4, seed=0)
    with pytest.raises(ValueError, match="a newer version wrote it"):
        study.optimize(paper_objective, n_trials=1)
    again = optuna.load_study(study_name="newer", storage=url)
    assert [t.state for t in again.trials] == [optuna.trial.TrialState.FAIL]
    assert again._storage.get_study_system_attrs(again._study_id)[claim_key(0, 0)] == newer


def _corrupted_cache(tmp: Path) -> None:
    from optuna_hamming.data import load_lfw_subset
    from optuna_hamming.vision.features import features_for

    images = load_lfw_subset()

    def extract() -> tuple[np.ndarray, bool]:
        features, report = features_for(images, weights=None, image_size=32, cache_dir=tmp)
        return features.X, report.cached

    first, _ = extract()
    (entry,) = (tmp / "features").glob("*.npz")
    raw = bytearray(entry.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte: a wrong feature, or an unreadable file
    entry.write_bytes(bytes(raw))
    again, cached = extract()
    assert not cached  # extracted again, not trusted
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-6)
    assert extract()[1]  # the repaired entry is read from then on


def _ctrl_c(tmp: Path) -> None:
    features = write_digit_features(tmp / "pixels.npz")
    storage, tracking = f"sqlite:///{tmp}/optuna.db", f"sqlite:///{tmp}/mlflow.db"
    argv = [
        "search", "--data", str(features), "--storage", storage, "--tracking-uri", tracking,
        "--study-name", "interrupted", "--population", "4", "--generations", "2",
        "--max-epochs", "60", "--patience", "60", "--reports-dir", str(tmp / "r"),
    ]  # fmt: skip
    # The tracking store is made before the search starts, so that polling it below is quick:
    # a first query that builds the MLflow schema took seconds, long enough on a fast machine
    # for trial 2 (and the whole study) to finish before the interrupt was sent.
    client = MlflowClient(tracking)
    client.search_experiments()
    # A Python started with SIGINT ignored (under `cmd &` in a non-interactive shell, as some CI
    # runners start jobs) keeps it ignored; Ctrl-C in a terminal is delivered, so start as there.
    as_in_a_terminal = (
        "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "runpy.run_module('optuna_hamming.cli', run_name='__main__', alter_sys=True)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", as_in_a_terminal, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("trial    1"):
            break
    # Interrupt trial 2 while it trains: once its run exists, it is inside the objective.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name("interrupted")
        assert experiment is not None
        if client.search_runs(
            [experiment.experiment_id], filter_string="params.trial_number = '2'"
        ):
            break
        time.sleep(0.05)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "run the same command again to continue" in err
    study = optuna.load_study(study_name="interrupted", storage=storage)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.FAIL]
    runs = runs_by_role(tracking, "interrupted")
    assert runs["study"][0].info.status == "KILLED"
    status = {int(r.data.params["trial_number"]): r.info.status for r in runs["trial"]}
    assert status == {0: "FINISHED", 1: "FINISHED", 2: "KILLED"}
    changed = [a if a != "60" else "5" for a in argv]
    code, _, err = run_cli(*changed)
    assert code == 2 and "max_epochs=60 (now 5)" in err  # other options: refused
    code, out, _ = run_cli(*[a if a != "2" else "1" for a in argv])
    assert code == 0 and "continuing, 2 finished trials" in out
    study = optuna.load_study(study_name="interrupted", storage=storage)
    assert len(HammingGASampler.generations(study)) == 1


def _weights_refused_first(tmp: Path) -> None:
    """Checked before the study and the parent run exist, so neither is left behind."""
    folder = _image_folder(tmp, {"a": 3, "b": 3})
    argv = ["--data", folder, "--weights", _other_weights(tmp), "--cache-dir", str(tmp / "c")]
    _cli_refuses(*argv, shown="does not fit torchvision-mobilenet-v2")(tmp)
    storage = f"sqlite:///{tmp}/optuna.db"
    assert optuna.get_all_study_names(storage) == []
    assert (
        MlflowClient(f"sqlite:///{tmp}/mlflow.db").search_runs(
            [
                e.experiment_id
                for e in MlflowClient(f"sqlite:///{tmp}/mlflow.db").search_experiments()
            ]
        )
        == []
    )


def _decompression_bomb(tmp: Path) -> None:
    from tests.test_data import png_header

    folder = Path(_image_folder(tmp, {"a": 8, "b": 8}))
    png_header(folder / "a" / "bomb.png", 20_000, 20_000)
    code, out, err = run_cli(
        *_base(tmp), "--data", str(folder), "--weights", "none", "--image-size", "32",
        "--generations", "1", "--cache-dir", str(tmp / "c"),
    )  # fmt: skip
    assert code == 0, err
    assert "16 images" in out and "0 unreadable files, 1 images over 89,478,485 pixels" in out


NOTHING = "nothing was started"
ROWS = [
    Row("unknown-dataset", "`--data no-such-dataset`", "unknown dataset 'no-such-dataset'",
        "exit 2", NOTHING, _cli_refuses("--data", "no-such-dataset",
                                        shown="unknown dataset 'no-such-dataset'")),
    Row("unknown-backbone", "`--backbone AlexNet`", "unknown backbone 'AlexNet'", "exit 2",
        NOTHING, _cli_refuses("--backbone", "AlexNet", shown="unknown backbone 'AlexNet'")),
    Row("missing-weights", "`--weights missing.h5`",
        "does not exist: pass imagenet, none or a file", "exit 2", NOTHING,
        _with_tmp(lambda t: ["--weights", str(t / "missing.h5")],
                  "does not exist: pass imagenet, none or a file")),
    Row("weights-do-not-fit", "`--weights` a file saved from another network",
        "does not fit torchvision-mobilenet-v2", "exit 2",
        "nothing was started: no study, no MLflow run", _weights_refused_first),
    Row("decompression-bomb", "`--data` a folder holding a 400-megapixel image bomb",
        "1 images over 89,478,485 pixels", "exit 0; the bomb left out and counted",
        "every other image", _decompression_bomb),
    Row("bad-storage-url", "`--storage nosuchdb://x/y`", "cannot open the storage", "exit 2",
        NOTHING, _cli_refuses("--storage", "nosuchdb://x/y", shown="cannot open the storage")),
    Row("storage-down", "`--storage postgresql+psycopg://postgres@127.0.0.1:1/x` (no server)",
        "cannot open the storage", "exit 2", NOTHING,
        _cli_refuses("--data", "digits", "--storage", "postgresql+psycopg://postgres@127.0.0.1:1/x",
                     shown="cannot open the storage")),
    Row("storage-unwritable", "`--storage sqlite:///` under a path that cannot be created",
        "pass a writable --storage", "exit 2", NOTHING,
        _with_tmp(lambda t: ["--data", "digits", "--storage",
                             f"sqlite:///{_a_file(t)}/sub/optuna.db"],
                  "pass a writable --storage")),
    Row("tracking-server-down", "`--tracking-uri http://127.0.0.1:9` (no server)",
        "is unreachable", "exit 2", NOTHING,
        _cli_refuses("--tracking-uri", "http://127.0.0.1:9", shown="is unreachable")),
    Row("mlruns-unwritable", "`--tracking-uri sqlite:///` under a path that cannot be created",
        "pass a writable --tracking-uri", "exit 2", "the study, no trials",
        _with_tmp(lambda t: ["--data", str(write_digit_features(t / "p.npz")), "--tracking-uri",
                             f"sqlite:///{_a_file(t)}/mlruns/mlflow.db"],
                  "pass a writable --tracking-uri")),
    Row("cache-unwritable", "`--cache-dir` that cannot be created (a full or read-only disk)",
        "pass a writable --cache-dir", "exit 2", "the study, no trials",
        _with_tmp(lambda t: ["--data", _image_folder(t, {"a": 3, "b": 3}),
                             "--cache-dir", str(_a_file(t) / "cache")],
                  "pass a writable --cache-dir")),
    Row("reports-unwritable", "`report --out` that cannot be created",
        "pass a writable --out", "exit 2", "the study and its trials", _report_unwritable),
    Row("population-zero", "`--population 0`", "expected a number >= 1", "exit 2 (usage)",
        NOTHING, _argparse_refuses("--population", "0", shown="expected a number >= 1")),
    Row("generations-not-a-number", "`--generations many`", "expected a whole number",
        "exit 2 (usage)", NOTHING,
        _argparse_refuses("--generations", "many", shown="expected a whole number")),
    Row("study-minimises", "`--study-name` of a study that minimises", "minimises",
        "exit 2", "the study and its trials", _study_exists("minimize", space=False)),
    Row("study-other-space", "`--study-name` of a study with other parameters",
        "another search space", "exit 2", "the study and its trials",
        _study_exists("maximize", space=True)),
    Row("changed-options", "continuing a study with another `--seed`", "seed=0 (now 7)",
        "exit 2", "the study, its trials and options", _changed_options),
    Row("ensemble-without-cv", "`--final ensemble` without `--fitness cv`",
        "add --fitness cv", "exit 2", NOTHING,
        _cli_refuses("--data", "digits", "--final", "ensemble", shown="add --fitness cv")),
    Row("folds-above-class", "`--fitness cv --folds 9` with 8 examples of a class to fold",
        "pass --folds 8 or fewer", "exit 2", NOTHING, _folds_above_class),
    Row("folds-above-limit", "`--folds 101`", "expected at most 100 folds", "exit 2 (usage)",
        NOTHING, _argparse_refuses("--folds", "101", shown="expected at most 100 folds")),
    Row("python-study-other-fitness", "`--fitness holdout` on a study a CV HeadObjective began",
        "continue it with --fitness cv --folds 3", "exit 2", "the study and its trials",
        _python_study_other_fitness),
    Row("one-fold", "`--folds 1`", "expected a number >= 2", "exit 2 (usage)", NOTHING,
        _argparse_refuses("--folds", "1", shown="expected a number >= 2")),
    Row("changed-fitness", "continuing a holdout study with `--fitness cv`",
        "fitness='holdout' (now 'cv')", "exit 2", "the study, its trials and options",
        _changed_fitness),
    Row("changed-sampler", "continuing a paper study with `--sampler accelerated`",
        "keeps the sampler settings it was started with", "exit 0, a warning; runs on as started",
        "the study, its trials and settings", _changed_sampler),
    Row("views-of-features", "`--views flip` with `--data` a features file",
        "transforms images before the backbone", "exit 2", NOTHING,
        _with_tmp(lambda t: ["--data", str(write_digit_features(t / "f.npz")), "--views",
                             VIEWS_FLIP], "transforms images before the backbone")),
    Row("layers-without-taps", "`--layers multi-layer --backbone MobileNetV2`",
        "multi-layer features are defined for", "exit 2", NOTHING,
        _cli_refuses("--data", "digits", "--layers", "multi-layer", "--backbone",
                     "MobileNetV2", shown="multi-layer features are defined for")),
    Row("preset-holdout", "`--preset recommended --fitness holdout`",
        "only --fitness cv makes", "exit 2", NOTHING,
        _cli_refuses("--data", "digits", "--preset", RECOMMENDED, "--fitness", "holdout",
                     shown="only --fitness cv makes")),
    Row("unknown-screening", "continuing an `accelerated` study a later version started",
        "which this version does not know", "exit 2", "the study, its trials and options",
        _unknown_screening),
    Row("several-studies", "`show` without `--study-name` on a storage of several studies",
        "holds several studies", "exit 2", "the studies", _show_refuses(None, "holds several")),
    Row("unknown-study", "`show --study-name typo`", "no study 'typo'", "exit 2", "the studies",
        _show_refuses("typo", "no study 'typo'")),
    Row("empty-folder", "`--data` an empty folder", "has no class sub-folders", "exit 2",
        NOTHING, _with_tmp(lambda t: ["--data", str(_empty(t))], "has no class sub-folders")),
    Row("one-class", "`--data` a folder with one class", "has a single class", "exit 2",
        NOTHING, _with_tmp(lambda t: ["--data", _image_folder(t, {"cat": 3})],
                           "has a single class")),
    Row("class-of-one", "`--data` with a class of 1 image", "has only 1 example", "exit 2",
        NOTHING, _with_tmp(lambda t: ["--data", _image_folder(t, {"a": 3, "b": 1})],
                           "has only 1 example")),
    Row("unreadable-images", "`--data` whose files are not images", "no readable images",
        "exit 2", NOTHING,
        _with_tmp(lambda t: ["--data", _image_folder(t, {"a": 2, "b": 2}, garbage=True)],
                  "no readable images")),
    Row("mismatched-features", "`--data` an .npz with 10 rows of X and 9 labels",
        "has 10 rows but y has 9 labels", "exit 2", NOTHING,
        _with_tmp(lambda t: ["--data", _features(t, np.zeros((10, 3)), np.arange(9) % 2)],
                  "has 10 rows but y has 9 labels")),
    Row("nan-features", "`--data` an .npz with NaN features", "contain NaN or infinite values",
        "exit 2", NOTHING,
        _with_tmp(lambda t: ["--data", _features(t, np.full((10, 3), np.nan), np.arange(10) % 2)],
                  "contain NaN or infinite values")),
    Row("pickled-features", "`--data` an .npz holding Python objects (would need pickle)",
        "is not a plain numpy archive", "exit 2", NOTHING,
        _with_tmp(lambda t: ["--data", _features(t, np.array([{"x": 1}] * 4, dtype=object),
                                                 np.arange(4) % 2)],
                  "is not a plain numpy archive")),
    Row("not-features", "`--data` a text file named .npz", "is not a plain numpy archive",
        "exit 2", NOTHING, _with_tmp(lambda t: ["--data", str(_text_npz(t))],
                                     "is not a plain numpy archive")),
    Row("corrupted-cache", "a feature cache entry damaged on disk", "extracting the features again",
        "warning; features rebuilt", "every other cache entry", _corrupted_cache),
    Row("sampler-population", "`HammingGASampler(population_size=1)`", "population_size",
        "ValueError", NOTHING, _sampler_refuses(ValueError, "population_size", population_size=1)),
    Row("sampler-screening-class", "`HammingGASampler(screening=SurrogateScreening)`",
        "must be a SurrogateScreening instance", "TypeError", NOTHING,
        _sampler_refuses(TypeError, "SurrogateScreening instance", screening=SurrogateScreening)),
    Row("screening-children", "`SurrogateScreening(children=0)`", "children=4", "ValueError",
        NOTHING, _screening_refuses(ValueError, "children=4", children=0)),
    Row("sampler-rate", "`HammingGASampler(mutate=1.5)`", "mutate", "ValueError", NOTHING,
        _sampler_refuses(ValueError, "mutate", mutate=1.5)),
    Row("sampler-positional", "`HammingGASampler(30)`", "positional", "TypeError", NOTHING,
        _positional),
    Row("claim-from-newer-version", "a worker of an older version on a study whose claims a "
        "newer version wrote", "a newer version wrote it", "ValueError",
        "the study and its claims; the trial is closed as FAIL", _claim_from_newer_version),
    Row("multi-objective", "a study with two objectives", "Use optuna.samplers.NSGAIISampler",
        "ValueError", "the study; the trial is closed as FAIL", _multi_objective),
    Row("ctrl-c", "Ctrl-C while a head trains", "run the same command again to continue",
        "exit 130", "finished trials and their runs; the interrupted trial FAIL, its run KILLED",
        _ctrl_c),
]  # fmt: skip


def _other_weights(tmp: Path) -> str:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp / "other.weights.h5"
    model.save_weights(path)
    return str(path)


def _empty(tmp: Path) -> Path:
    path = tmp / "empty"
    path.mkdir()
    return path


def _text_npz(tmp: Path) -> Path:
    path = tmp / "notes.npz"
    path.write_text("X,y\n1,2\n")
    return path


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, tmp_path: Path) -> None:
    row.check(tmp_path)


def test_docs_list_every_row() -> None:
    readme = (ROOT / "docs" / "reliability.md").read_text()
    table = readme[readme.index("<!-- bad-input-table -->") :]
    for row in ROWS:
        assert f"| {row.id} |" in table and row.shown in table, row.id
    assert len(ROWS) >= 20


if __name__ == "__main__":  # prints the table of docs/reliability.md
    print("| case | what the user did | shown | outcome | kept |")
    print("|---|---|---|---|---|")
    for row in ROWS:
        print(f'| {row.id} | {row.what} | "{row.shown}" | {row.outcome} | {row.kept} |')
