"""``python -m tests.lock_worker SPEC STUDY LOG N``: take the lock N times, logging to LOG."""

from __future__ import annotations

import os
import sys
import time

import optuna

from optuna_hamming.storages import study_lock
from tests.helpers import make_storage


def main() -> None:
    spec, study_name, log, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    storage = optuna.storages.get_storage(make_storage(spec))
    for _ in range(rounds):
        with study_lock(storage, study_name, "test", wait=120, stale_after=60) as held:
            assert held
            with open(log, "a") as handle:
                handle.write(f"enter {os.getpid()}\n")
            time.sleep(0.02)
            with open(log, "a") as handle:
                handle.write(f"leave {os.getpid()}\n")


if __name__ == "__main__":
    main()
