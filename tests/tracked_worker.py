"""A worker that logs to MLflow and sends heartbeats, for the distributed tests.

``python -m tests.tracked_worker STORAGE_URL STUDY TRACKING_URI N_COMPLETE SLEEP``: works on
the study until it holds N_COMPLETE finished trials.
"""

from __future__ import annotations

import os
import sys
import time

import optuna
from optuna.storages import RDBStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import StaleTrialHandler
from optuna_hamming.tracking import StudyTracker
from tests.helpers import paper_objective

POPULATION = 6


def main() -> None:
    url, study_name, tracking_uri = sys.argv[1], sys.argv[2], sys.argv[3]
    n_complete, pause = int(sys.argv[4]), float(sys.argv[5])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    handler = StaleTrialHandler(max_retry=2)
    storage = RDBStorage(
        url, heartbeat_interval=1, grace_period=2, heartbeat_stale_trial_callback=handler
    )
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=HammingGASampler(population_size=POPULATION)
    )
    tracker = StudyTracker(tracking_uri=tracking_uri)
    tracker.start(study)
    handler.tracker = tracker

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("pid", os.getpid())
        value = paper_objective(trial)
        time.sleep(pause)
        return value

    study.optimize(
        tracker.track(objective),
        callbacks=[MaxTrialsCallback(n_complete, states=(TrialState.COMPLETE,))],
    )
    tracker.finish()


if __name__ == "__main__":
    main()
