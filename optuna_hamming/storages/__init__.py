"""Layer 2: what the product needs of Optuna's storages beyond the sampler.

* :mod:`.lock`: a lock every worker of a study can take, in any storage (one MLflow parent
  run and one final model per study, whoever starts first);
* ``set_trial_attrs``, ``set_study_attrs``: several trial (study) attributes in one
  transaction on RDB storages;
* ``study_system_attrs``: some study attributes read by key; ``trials_with_heartbeat`` and
  ``heartbeat_grace``: what Optuna's stale-trial check does not tell;
* :mod:`.reconnect`: a wrapper that retries calls cut by a database or Redis restart.
"""

from optuna_hamming.storages._reads import (
    heartbeat_grace,
    study_system_attrs,
    trials_with_heartbeat,
)
from optuna_hamming.storages._writes import set_study_attrs, set_trial_attrs
from optuna_hamming.storages.lock import is_lock_study, lock_name, study_lock
from optuna_hamming.storages.reconnect import (
    ReconnectingJournalBackend,
    ReconnectingStorage,
    is_connection_error,
)

__all__ = [
    "ReconnectingJournalBackend",
    "ReconnectingStorage",
    "heartbeat_grace",
    "is_connection_error",
    "is_lock_study",
    "lock_name",
    "set_study_attrs",
    "set_trial_attrs",
    "study_lock",
    "study_system_attrs",
    "trials_with_heartbeat",
]
