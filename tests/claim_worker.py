"""``python -m tests.claim_worker SPEC STUDY KEY OWNER START``: wait until the wall clock
reads START, claim KEY of STUDY for OWNER and print the owner that holds it."""

from __future__ import annotations

import sys
import time

import optuna

from optuna_hamming.storages.claims import claim
from tests.helpers import make_storage


def main() -> None:
    spec, study_name, key, owner, start = sys.argv[1:6]
    storage = optuna.storages.get_storage(make_storage(spec))
    study_id = storage.get_study_id_from_name(study_name)
    time.sleep(max(0.0, float(start) - time.time()))
    print(claim(storage, study_id, key, int(owner)), flush=True)


if __name__ == "__main__":
    main()
