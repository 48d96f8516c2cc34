"""A worker training its trials in batches (``optimize_in_batches``), for the kill test:
``KERAS_BACKEND=jax python -m tests.batch_worker DB N_TRIALS MAX_EPOCHS``."""

from __future__ import annotations

import sys

import optuna

from optuna_hamming import HammingGASampler
from optuna_hamming.cli.common import StaleTrialHandler
from optuna_hamming.data import load_features_npz, stratified_splits
from optuna_hamming.vision.batched_study import optimize_in_batches


def batch_storage(path: str) -> optuna.storages.RDBStorage:
    # Heartbeats every second: a worker killed mid-batch is found stale 2 s later.
    return optuna.storages.RDBStorage(
        f"sqlite:///{path}",
        heartbeat_interval=1,
        grace_period=1,
        heartbeat_stale_trial_callback=StaleTrialHandler(max_retry=1),
    )


def main() -> None:
    path, n_trials, max_epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    features_path = sys.argv[4]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    features = load_features_npz(features_path)
    study = optuna.create_study(
        study_name="batched",
        storage=batch_storage(path),
        direction="maximize",
        sampler=HammingGASampler(population_size=4, seed=0),
        load_if_exists=True,
    )
    optimize_in_batches(
        study, features, stratified_splits(features.y, seed=0), heads_per_program=4,
        n_trials=n_trials, max_epochs=max_epochs, patience=3,
    )  # fmt: skip


if __name__ == "__main__":
    main()
