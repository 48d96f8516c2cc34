"""A worker for the multi-process tests:
``python -m tests.worker SPEC STUDY N [SLEEP [POP [MODE]]]``.
"""

from __future__ import annotations

import sys
import time

import optuna

from optuna_hamming.names import PAPER
from optuna_hamming.sampler.configurations import sampler_named
from tests.helpers import make_storage, paper_objective


def main() -> None:
    spec, study_name, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    population = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    # The --sampler names: the accelerated mode (recommended_sampler) or the paper's GA.
    mode = sys.argv[6] if len(sys.argv) > 6 else PAPER
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        value = paper_objective(trial)
        time.sleep(pause)
        return value

    study = optuna.load_study(
        study_name=study_name,
        storage=make_storage(spec),
        sampler=sampler_named(mode, population_size=population),
    )
    study.optimize(objective, n_trials=n_trials)


if __name__ == "__main__":
    main()
