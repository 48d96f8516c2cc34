"""One sampler object reused for many studies (a notebook habit, and Optuna's own test
pattern): the state it caches per study never outlives or crosses its study."""

from __future__ import annotations

import gc
from pathlib import Path

import optuna
from optuna.storages import InMemoryStorage

from optuna_hamming import HammingGASampler
from optuna_hamming.paper import synthetic_objective
from optuna_hamming.sampler._state import MAX_STUDIES_PER_STORAGE
from optuna_hamming.sampler.attributes import GENERATION_ATTR, ORIGIN_ATTR, SEED_KEY

POPULATION = 6


def assert_a_fresh_study(study: optuna.Study) -> None:
    first = study.trials[:POPULATION]
    assert [t.user_attrs[GENERATION_ATTR] for t in first] == [0] * POPULATION
    assert {t.user_attrs[ORIGIN_ATTR] for t in first} == {"initial"}
    assert study.trials[POPULATION].user_attrs[GENERATION_ATTR] == 1


def test_a_new_storage_at_a_freed_address_starts_at_generation_zero() -> None:
    """In-memory storages reuse a freed address at once. (SQLite ones did not within 40
    tries here; a study recreated under the same id in one SQLite storage is the next test.)"""
    sampler = HammingGASampler(population_size=POPULATION, seed=0)
    seen: set[int] = set()
    reused: InMemoryStorage | None = None
    for _ in range(200):  # bounded: CPython reuses a freed address within a few tries
        storage = InMemoryStorage()
        if id(storage) in seen:
            reused = storage
            break
        seen.add(id(storage))
        study = optuna.create_study(storage=storage, sampler=sampler, direction="maximize")
        assert study._storage is storage
        study.optimize(synthetic_objective, n_trials=8 * POPULATION)  # several generations
        assert len(HammingGASampler.generations(study)) >= 3
        del study, storage
        gc.collect()
        assert len(sampler._states) == 0  # the dead storage's entries went with it
    assert reused is not None, "no storage reused a freed address in 200 tries"
    # The case that continued a dead study before: a live storage at a dead one's address.
    study = optuna.create_study(storage=reused, sampler=sampler, direction="maximize")
    study.optimize(synthetic_objective, n_trials=POPULATION + 1)
    assert_a_fresh_study(study)


def test_a_study_recreated_under_the_same_id_starts_afresh(tmp_path: Path) -> None:
    storage = optuna.storages.get_storage(f"sqlite:///{tmp_path / 'studies.db'}")
    sampler = HammingGASampler(population_size=POPULATION, seed=0)
    old = optuna.create_study(
        study_name="s", storage=storage, sampler=sampler, direction="maximize"
    )
    old.optimize(synthetic_objective, n_trials=5 * POPULATION)
    old_id = old._study_id
    optuna.delete_study(study_name="s", storage=storage)
    new = optuna.create_study(
        study_name="s", storage=storage, sampler=sampler, direction="maximize"
    )
    new.optimize(synthetic_objective, n_trials=POPULATION + 1)
    assert_a_fresh_study(new)
    # SQLite hands out the freed id again, which is the case the check against storage covers.
    assert new._study_id == old_id


def test_the_cache_stays_bounded() -> None:
    storage = InMemoryStorage()
    sampler = HammingGASampler(population_size=2, seed=0)
    studies = []
    for _ in range(MAX_STUDIES_PER_STORAGE + 8):
        study = optuna.create_study(storage=storage, sampler=sampler, direction="maximize")
        study.optimize(synthetic_objective, n_trials=3)
        studies.append(study)
    assert len(sampler._states) == MAX_STUDIES_PER_STORAGE
    # An evicted study is read back from storage and continues where it was.
    studies[0].optimize(synthetic_objective, n_trials=3)
    assert studies[0].trials[-1].user_attrs[GENERATION_ATTR] >= 1


def test_a_study_recreated_before_its_first_generation_closed_starts_afresh(
    tmp_path: Path,
) -> None:
    """SQLite hands out the deleted study's id and its trials' ids again: the check against
    storage compares trial 0's start as well."""
    storage = optuna.storages.get_storage(f"sqlite:///{tmp_path / 'studies.db'}")
    sampler = HammingGASampler(population_size=POPULATION, seed=0)
    old = optuna.create_study(
        study_name="s", storage=storage, sampler=sampler, direction="maximize"
    )
    old.optimize(synthetic_objective, n_trials=POPULATION // 2)
    optuna.delete_study(study_name="s", storage=storage)
    new = optuna.create_study(
        study_name="s", storage=storage, sampler=sampler, direction="maximize"
    )
    new.optimize(synthetic_objective, n_trials=POPULATION + 1)
    assert_a_fresh_study(new)
    assert storage.get_study_system_attrs(new._study_id)[SEED_KEY] == 0
