"""Shared test helpers: storages by name, and the invariants every GA study must keep."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

from optuna_hamming import HammingGASampler
from optuna_hamming.paper import suggest_paper_genome, synthetic_head_score
from optuna_hamming.sampler import fitness_of
from optuna_hamming.sampler.attributes import GENE_ATTR, GENERATION_ATTR, ORIGIN_ATTR, PARENTS_ATTR

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379"


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# Every storage kind, as pytest parameters (PostgreSQL and Redis skip where not running);
# CROSS_PROCESS_STORAGE_KINDS leaves out the in-memory one.
STORAGE_KINDS = [
    pytest.param("inmemory", id="inmemory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("journal", id="journal-file"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=pytest.mark.skipif(not reachable(5432), reason="no PostgreSQL on 127.0.0.1:5432"),
    ),
    pytest.param(
        "redis",
        id="redis-journal",
        marks=pytest.mark.skipif(not reachable(6379), reason="no Redis on 127.0.0.1:6379"),
    ),
]
CROSS_PROCESS_STORAGE_KINDS = STORAGE_KINDS[1:]


def storage_spec(kind: str, tmp_path: Path) -> str:
    """A string naming a fresh storage of ``kind``, usable from other processes too."""
    if kind == "inmemory":
        return "inmemory"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'optuna.db'}"
    if kind == "journal":
        return f"journal:{tmp_path / 'journal.log'}"
    if kind == "postgres":
        return POSTGRES_URL
    if kind == "redis":
        return f"redis-journal:{uuid.uuid4().hex}"
    raise ValueError(kind)


def make_storage(spec: str) -> BaseStorage | str | None:
    if spec == "inmemory":
        return None
    if spec.startswith("journal:"):
        return JournalStorage(JournalFileBackend(spec.removeprefix("journal:")))
    if spec.startswith("redis-journal:"):
        return JournalStorage(JournalRedisBackend(REDIS_URL, prefix=spec.split(":", 1)[1]))
    return spec


def history(study: optuna.Study) -> list[tuple[Any, ...]]:
    """Everything a study's trials hold, for comparing two runs bit for bit."""
    return [
        (t.number, t.state, t.params, t.value, sorted(t.user_attrs.items()))
        for t in study.get_trials(deepcopy=False)
    ]


def paper_objective(trial: optuna.Trial) -> float:
    return synthetic_head_score(suggest_paper_genome(trial))


def check_ga_history(study: optuna.Study, population_size: int, retain: float = 0.4) -> int:
    """Assert the invariants of a GA study; return the number of closed generations."""
    trials = study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    summaries = HammingGASampler.generations(study)
    assert list(summaries) == list(range(len(summaries))), "generations must be contiguous"
    for t in trials:
        if t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL:
            for key in (GENERATION_ATTR, GENE_ATTR, ORIGIN_ATTR, PARENTS_ATTR):
                assert key in t.user_attrs, (t.number, key)
    for g, summary in summaries.items():
        members = summary["members"]
        assert len(members) == population_size, (g, members)
        for number, value in zip(members, summary["fitness"], strict=True):
            assert fitness_of(by_number[number]) == value
        parents = summary["retained"] + summary["selected"]
        assert set(parents) <= set(members)
        assert len(summary["retained"]) == min(int(retain * population_size), population_size - 1)
        children = [
            t
            for t in trials
            if t.user_attrs.get(GENERATION_ATTR) == g + 1
            and t.user_attrs.get(ORIGIN_ATTR) not in ("enqueued", "random_unevaluated", "retried")
        ]
        for child in children:
            assert set(child.user_attrs[PARENTS_ATTR]) <= set(parents), (g, child.number)
        if g + 1 in summaries:
            following = summaries[g + 1]["members"]
            assert following[: len(parents)] == parents, (g, following, parents)
            trained = following[len(parents) :]
            for number in trained:
                if by_number[number].user_attrs.get(GENERATION_ATTR) == g + 1:
                    continue
                # Otherwise carried from the archive (skip_duplicates) with its own fitness.
                assert number in by_number
    return len(summaries)


def run_paper_study(
    storage: Any,
    n_trials: int,
    *,
    seed: int | None = 0,
    population_size: int = 8,
    n_jobs: int = 1,
    study_name: str | None = None,
    **kwargs: Any,
) -> optuna.Study:
    sampler = HammingGASampler(population_size=population_size, seed=seed, **kwargs)
    study = optuna.create_study(
        storage=storage,
        sampler=sampler,
        direction="maximize",
        study_name=study_name or f"t-{uuid.uuid4().hex}",
        load_if_exists=True,
    )
    study.optimize(paper_objective, n_trials=n_trials, n_jobs=n_jobs)
    return study
