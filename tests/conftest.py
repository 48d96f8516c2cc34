from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pytest
from hypothesis import settings

optuna.logging.set_verbosity(optuna.logging.WARNING)

# `HYPOTHESIS_PROFILE=soak pytest -m "not keras"` hunts for rare counterexamples before they
# turn up in CI by chance; the default profile keeps `make test` fast.
settings.register_profile("soak", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@dataclass(frozen=True)
class FinishedSearch:
    """A small `optuna-hamming search` on digit-pixel features, run once per session."""

    root: Path
    features: Path
    storage: str
    tracking_uri: str
    study_name: str
    reports: Path
    output: str

    def argv(self, *extra: str) -> list[str]:
        return [
            "search",
            "--data",
            str(self.features),
            "--storage",
            self.storage,
            "--tracking-uri",
            self.tracking_uri,
            "--study-name",
            self.study_name,
            "--reports-dir",
            str(self.reports),
            "--population",
            "4",
            "--max-epochs",
            "4",
            "--patience",
            "1",
            *extra,
        ]


def small_search(root: Path, study_name: str) -> FinishedSearch:
    """A search on digit pixels with its own storage and MLflow store under ``root``."""
    return FinishedSearch(
        root=root,
        features=write_digit_features(root / "pixels.npz"),
        storage=f"sqlite:///{root}/optuna.db",
        tracking_uri=f"sqlite:///{root}/mlflow.db",
        study_name=study_name,
        reports=root / "reports",
        output="",
    )


def write_digit_features(path: Path) -> Path:
    """scikit-learn's 8x8 digits as 64 pixel features: a features file trains in seconds."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(
        path,
        X=(digits.data / 16.0).astype(np.float32),
        y=digits.target,
        class_names=np.array([str(d) for d in range(10)]),
    )
    return path


@pytest.fixture(scope="session")
def finished_search(tmp_path_factory: pytest.TempPathFactory) -> FinishedSearch:
    from optuna_hamming.cli import main

    root = tmp_path_factory.mktemp("search")
    search = FinishedSearch(
        root=root,
        features=write_digit_features(root / "digits.npz"),
        storage=f"sqlite:///{root}/mlruns/optuna.db",
        tracking_uri=f"sqlite:///{root}/mlruns/mlflow.db",
        study_name="digits-pixels",
        reports=root / "mlruns" / "reports",
        output="",
    )
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(search.argv("--generations", "2"))
    assert code == 0, buffer.getvalue()
    return dataclasses.replace(search, output=buffer.getvalue())
