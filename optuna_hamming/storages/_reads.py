"""Reads Optuna's storage API does not offer: some of a study's system attributes by key,
and which running trials have ever recorded a heartbeat.

Optuna's storage API reads a study's system attributes all at once. The sampler keeps one
key per closed generation (its plan, compacted to a marker once the next one is stored), so
reading them all at every close costs a study of G generations O(G) rows per close and
O(G^2) in all: on RDB storages the keys asked for are read alone instead.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from optuna.storages import BaseStorage

from optuna_hamming.storages._writes import rdb_backend, rdb_internals
from optuna_hamming.storages.reconnect import retrying


def study_system_attrs(
    storage: BaseStorage, study_id: int, keys: Collection[str] = (), *, prefix: str | None = None
) -> dict[str, Any]:
    """The study system attributes among ``keys`` that are set (a key absent is left out),
    or, with ``prefix``, every one whose key starts with it."""
    internals = rdb_internals(storage)
    if internals is None:
        attrs = storage.get_study_system_attrs(study_id)
        if prefix is not None:
            return {key: value for key, value in attrs.items() if key.startswith(prefix)}
        return {key: attrs[key] for key in keys if key in attrs}
    rdb, models, scoped = internals
    model = models.StudySystemAttributeModel
    if prefix is not None:
        wanted = model.key.startswith(prefix, autoescape=True)
    else:
        wanted = model.key.in_(list(keys))

    def read() -> dict[str, Any]:
        with scoped(rdb.scoped_session) as session:
            rows = (
                session.query(model.key, model.value_json)
                .filter(model.study_id == study_id, wanted)
                .all()
            )
            return {key: json.loads(value) for key, value in rows}

    return retrying(storage, read, "study_system_attrs")


def heartbeat_grace(storage: BaseStorage) -> float | None:
    """Seconds without a heartbeat after which Optuna finds a running trial stale, on an RDB
    storage with heartbeats; None elsewhere."""
    rdb = rdb_backend(storage)
    if rdb is None or rdb.heartbeat_interval is None:
        return None
    grace = rdb.grace_period
    return float(2 * rdb.heartbeat_interval if grace is None else grace)


def trials_with_heartbeat(storage: BaseStorage, trial_ids: Collection[int]) -> set[int]:
    """Those of ``trial_ids`` that have recorded a heartbeat. Optuna never finds a running
    trial without one stale (a worker killed before its trial's first heartbeat); storages
    without heartbeats return every id, having nothing to tell."""
    internals = rdb_internals(storage)
    if internals is None or not trial_ids:
        return set(trial_ids)
    rdb, models, scoped = internals
    model = models.TrialHeartbeatModel

    def read() -> set[int]:
        with scoped(rdb.scoped_session) as session:
            rows = session.query(model.trial_id).filter(model.trial_id.in_(list(trial_ids)))
            return {int(trial_id) for (trial_id,) in rows.all()}

    return retrying(storage, read, "trials_with_heartbeat")
