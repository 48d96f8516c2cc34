"""A worker for the fault tests: ``python -m tests.fault_worker URL STUDY TOTAL PAUSE OUT``.

It opens the storage as ``optuna-hamming search`` does (reconnection, pre-ping and a 30 s
heartbeat) and runs the paper's GA on the synthetic landscape until the study holds TOTAL
complete trials, appending ``number state`` to OUT for every trial it saw finish.
"""

from __future__ import annotations

import sys
import time

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import open_storage
from optuna_hamming.paper import synthetic_objective

POPULATION = 6


def main() -> None:
    url, study_name, total, pause, out = sys.argv[1:6]
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        value = synthetic_objective(trial)
        time.sleep(float(pause))
        return value

    def record(study: optuna.Study, trial: FrozenTrial) -> None:
        with open(out, "a") as file:
            file.write(f"{trial.number} {trial.state.name}\n")

    study = optuna.load_study(
        study_name=study_name,
        storage=open_storage(url, heartbeat=30),
        sampler=HammingGASampler(population_size=POPULATION),
    )
    study.optimize(
        objective,
        callbacks=[MaxTrialsCallback(int(total), states=(TrialState.COMPLETE,)), record],
    )


if __name__ == "__main__":
    main()
