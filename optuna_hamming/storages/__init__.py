"""Layer 2: what the product needs of Optuna's storages beyond the sampler.

* :mod:`.lock`: a lock every worker of a study can take, in any storage (one MLflow parent
  run and one final model per study, whoever starts first);
* ``set_trial_attrs``: several trial attributes in one transaction on RDB storages.
"""

from optuna_hamming.storages._writes import set_trial_attrs
from optuna_hamming.storages.lock import is_lock_study, lock_name, study_lock

__all__ = ["is_lock_study", "lock_name", "set_trial_attrs", "study_lock"]
