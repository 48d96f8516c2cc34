"""The sampler on real storages: threads, processes, and a worker killed mid-study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.sampler.attributes import CHILD_KEY
from optuna_hamming.storages import set_study_attrs, set_trial_attrs, study_system_attrs
from tests.helpers import (
    STORAGE_KINDS,
    check_ga_history,
    make_storage,
    run_paper_study,
    storage_spec,
)

ROOT = Path(__file__).resolve().parents[1]

KINDS = STORAGE_KINDS


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_jobs", [1, 4])
def test_threads_on_every_storage(kind: str, n_jobs: int, tmp_path: Path) -> None:
    storage = make_storage(storage_spec(kind, tmp_path))
    study = run_paper_study(storage, 64, population_size=8, n_jobs=n_jobs, seed=0)
    assert len(finished(study)) == 64
    assert check_ga_history(study, 8) >= 5


@pytest.mark.parametrize("kind", [k for k in KINDS if k.id != "inmemory"])
def test_three_processes_share_one_study(kind: str, tmp_path: Path) -> None:
    spec = storage_spec(kind, tmp_path)
    name = f"procs-{uuid.uuid4().hex}"
    optuna.create_study(
        study_name=name,
        storage=make_storage(spec),
        direction="maximize",
        sampler=HammingGASampler(population_size=8),
    )
    workers = [
        subprocess.Popen([sys.executable, "-m", "tests.worker", spec, name, "30", "0.01"], cwd=ROOT)
        for _ in range(3)
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0]
    study = optuna.load_study(study_name=name, storage=make_storage(spec))
    assert len(finished(study)) == 90
    assert check_ga_history(study, 8) >= 7
    # Children were shared out: no two trials of a generation hold the same child index.
    claims = [tuple(t.system_attrs[CHILD_KEY]) for t in study.trials]
    # Two workers that claim one child at the same instant see each other when they read
    # back and move apart (claims.py); a duplicate left needs a claim that moved 5 times
    # (seen: 1-3 in 800 trials of 8 workers on 2 cores). It would cost one head trained
    # twice, never a wrong generation.
    assert len(claims) - len(set(claims)) <= 1


def test_killed_worker_study_resumes(tmp_path: Path) -> None:
    spec = f"sqlite:///{tmp_path / 'kill.db'}"
    name = "killed"
    optuna.create_study(
        study_name=name,
        storage=spec,
        direction="maximize",
        sampler=HammingGASampler(population_size=8),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.worker", spec, name, "1000", "0.05"], cwd=ROOT
    )
    deadline = time.time() + 120
    study = optuna.load_study(study_name=name, storage=spec)
    while len(finished(study)) < 30 and time.time() < deadline:
        time.sleep(0.2)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    done_before = len(finished(study))
    assert done_before >= 30
    # Reopen with a fresh sampler and continue to 100 finished trials.
    study = optuna.load_study(
        study_name=name, storage=spec, sampler=HammingGASampler(population_size=8)
    )
    study.optimize(
        lambda t: __import__("tests.helpers").helpers.paper_objective(t), n_trials=100 - done_before
    )
    assert len(finished(study)) == 100
    running = [t for t in study.trials if t.state == TrialState.RUNNING]
    assert len(running) <= 1  # the trial that was training when the worker died
    assert check_ga_history(study, 8) >= 8


@pytest.mark.parametrize("kind", KINDS)
def test_set_study_attrs_inserts_and_updates_on_every_storage(kind: str, tmp_path: Path) -> None:
    study = optuna.create_study(storage=make_storage(storage_spec(kind, tmp_path)))
    storage, study_id = study._storage, study._study_id
    storage.set_study_system_attr(study_id, "ga:plan:1", {"old": True})
    set_study_attrs(
        storage,
        study_id,
        system={"ga:plan:1": "compacted", "ga:plan:2": {"children": [[0, 1]]}},
        user={"ga:generation:1": {"members": [3, 4]}},
    )
    assert storage.get_study_system_attrs(study_id) == {
        "ga:plan:1": "compacted",
        "ga:plan:2": {"children": [[0, 1]]},
    }
    assert storage.get_study_user_attrs(study_id) == {"ga:generation:1": {"members": [3, 4]}}


@pytest.mark.parametrize("kind", KINDS)
def test_study_system_attrs_reads_the_keys_asked_for_on_every_storage(
    kind: str, tmp_path: Path
) -> None:
    first = optuna.create_study(storage=make_storage(storage_spec(kind, tmp_path)))
    storage = first._storage
    second = optuna.create_study(storage=storage)
    for study, value in ((first, 1), (second, 2)):
        storage.set_study_system_attr(study._study_id, "ga:plan:1", "compacted")
        storage.set_study_system_attr(study._study_id, "ga:plan:2", {"children": [[value]]})
        storage.set_study_system_attr(study._study_id, "hamming_ga:seed", value)
    keys = ("hamming_ga:seed", "ga:plan:2", "ga:plan:3")
    assert study_system_attrs(storage, first._study_id, keys) == {
        "hamming_ga:seed": 1,
        "ga:plan:2": {"children": [[1]]},
    }  # another study's rows, keys not asked for and keys not set are left out
    assert study_system_attrs(storage, second._study_id, ["ga:plan:1"]) == {
        "ga:plan:1": "compacted"
    }
    assert study_system_attrs(storage, second._study_id, []) == {}


@pytest.mark.parametrize("kind", [k for k in KINDS if k.id in {"sqlite", "postgres"}])
def test_set_study_attrs_is_one_transaction_on_rdb_storages(kind: str, tmp_path: Path) -> None:
    # A value that cannot be written, after one that can: with one transaction neither lands
    # (a worker that finds the plan also finds the summary); per-attribute commits would
    # leave the summary behind.
    study = optuna.create_study(storage=make_storage(storage_spec(kind, tmp_path)))
    storage, study_id = study._storage, study._study_id
    with pytest.raises(TypeError):
        set_study_attrs(
            storage, study_id, system={"ga:plan:2": object()}, user={"ga:generation:1": [1]}
        )
    assert storage.get_study_user_attrs(study_id) == {}
    assert storage.get_study_system_attrs(study_id) == {}


@pytest.mark.parametrize("kind", KINDS)
def test_set_trial_attrs_inserts_and_updates_on_every_storage(kind: str, tmp_path: Path) -> None:
    study = optuna.create_study(storage=make_storage(storage_spec(kind, tmp_path)))
    storage, trial_id = study._storage, study.ask()._trial_id
    storage.set_trial_system_attr(trial_id, "ga:child", [0, 0])
    storage.set_trial_user_attr(trial_id, "ga.origin", "random")
    set_trial_attrs(
        storage,
        trial_id,
        system={"ga:child": [1, 3], "ga:extra": {"a": 1}},
        user={"ga.origin": "crossover", "ga.generation": 1, "ga.gene": "0101"},
    )
    trial = storage.get_trial(trial_id)
    assert trial.system_attrs == {"ga:child": [1, 3], "ga:extra": {"a": 1}}
    assert trial.user_attrs == {"ga.origin": "crossover", "ga.generation": 1, "ga.gene": "0101"}
    # Another trial's attributes with the same keys are not touched.
    other = study.ask()._trial_id
    set_trial_attrs(storage, other, system={"ga:child": [1, 4]}, user={"ga.origin": "mutation"})
    assert storage.get_trial(trial_id).system_attrs["ga:child"] == [1, 3]
    assert storage.get_trial(other).user_attrs == {"ga.origin": "mutation"}


@pytest.mark.parametrize("kind", KINDS)
def test_set_trial_attrs_refuses_a_finished_trial(kind: str, tmp_path: Path) -> None:
    study = optuna.create_study(storage=make_storage(storage_spec(kind, tmp_path)))
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(RuntimeError):
        set_trial_attrs(study._storage, trial._trial_id, system={"ga:child": [1, 0]})
    assert study._storage.get_trial(trial._trial_id).system_attrs == {}


@pytest.mark.parametrize("kind", [k for k in KINDS if k.id in {"sqlite", "postgres"}])
def test_set_trial_attrs_is_one_transaction_on_rdb_storages(kind: str, tmp_path: Path) -> None:
    # The claim (system) and its description (user) land together or not at all.
    study = optuna.create_study(storage=make_storage(storage_spec(kind, tmp_path)))
    trial_id = study.ask()._trial_id
    with pytest.raises(TypeError):
        set_trial_attrs(
            study._storage, trial_id, system={"ga:child": [1, 0]}, user={"ga.bad": object()}
        )
    trial = study._storage.get_trial(trial_id)
    assert trial.system_attrs == {} and trial.user_attrs == {}
