from __future__ import annotations

import os

import optuna
from hypothesis import settings

optuna.logging.set_verbosity(optuna.logging.WARNING)

# `HYPOTHESIS_PROFILE=soak pytest -m "not keras"` hunts for rare counterexamples before they
# turn up in CI by chance; the default profile keeps `make test` fast.
settings.register_profile("soak", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
