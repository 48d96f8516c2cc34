"""A disk that fills while the final model and its artifacts are written.

The MLflow artifact root is a small tmpfs, filled up before the search ends (a mount needs
root; the test is skipped with the reason elsewhere: ``RLIMIT_FSIZE`` would hit the SQLite
databases too). The search must end with a message naming the path, keep the study whole,
and the same command, once there is space again, must build the final model.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from optuna_hamming.cli.common import FINAL_ATTR
from tests.cli_helpers import run_cli, runs_by_role
from tests.conftest import small_search

POPULATION = 4  # small_search's population: one generation is four trials


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}): needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Fill the file system of ``path`` to the last byte; the filler file."""
    filler = path / "filler.bin"
    with contextlib.suppress(OSError), filler.open("wb") as file:
        while True:
            file.write(b"\0" * 4096)
            file.flush()
    return filler


def test_a_full_artifact_disk_is_named_and_the_same_command_finishes(tmp_path: Path) -> None:
    search = small_search(tmp_path, "full-disk")
    artifacts = tmp_path / "artifacts"  # where the tracker puts a sqlite store's artifacts
    argv = search.argv("--generations", "1")
    with small_tmpfs(artifacts, "1m"):
        filler = fill(artifacts)
        code, _, err = run_cli(*argv)
        assert code != 0
        assert "no space left on the disk" in err and artifacts.as_uri() in err, err
        assert "run the same command again" in err
        study = optuna.load_study(study_name=search.study_name, storage=search.storage)
        complete = study.get_trials(states=(TrialState.COMPLETE,))
        assert len(complete) == POPULATION and FINAL_ATTR not in study.user_attrs
        failed = runs_by_role(search.tracking_uri, search.study_name)["final-model"]
        assert [r.info.status for r in failed] == ["FAILED"]
        assert "No space left" in failed[0].data.tags["error"]

        filler.unlink()
    # The user makes room: here the small disk goes, and the directory is on a large one.
    code, _, err = run_cli(*argv)
    assert code == 0, err
    study = optuna.load_study(study_name=search.study_name, storage=search.storage)
    assert [t.number for t in study.trials] == [t.number for t in complete]  # none trained again
    assert FINAL_ATTR in study.user_attrs
    finals = runs_by_role(search.tracking_uri, search.study_name)["final-model"]
    assert sorted(r.info.status for r in finals) == ["FAILED", "FINISHED"]
