"""The tracker's vocabulary: the tags, attributes and metric names it writes, which other
tools (the MLflow UI, optuna-dashboard, a later tracker on the same study) read back, so they
live apart from the code that writes them; where runs go by default, and the error a user
sees when they cannot go there.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from optuna_hamming.sampler.attributes import (
    GENERATION_ATTR,
    ORIGIN_ATTR,
    PARENTS_ATTR,
    GenerationSummary,
)

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
ROLE_TAG = "optuna_hamming.role"  # "study", "trial" or "final-model"
STUDY_TAG = "optuna.study_name"
STORAGE_TAG = "optuna.storage"
TRIAL_TAG = "optuna.trial_number"
STATE_TAG = "optuna.state"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"  # setting it renames the run
PARENT_RUN_ATTR = "mlflow.parent_run_id"  # study user attribute: the parent run's id
RUN_ID_ATTR = "mlflow.run_id"  # trial system attribute: the trial's run (wrapped objectives)
# Known when a trial starts; the gene of an initial individual only once it has suggested.
GA_PARAMS = (GENERATION_ATTR, ORIGIN_ATTR, PARENTS_ATTR)
# Per-generation figures on the parent run, from the ``ga.generation.<g>`` summaries.
GENERATION_METRICS: dict[str, Callable[[GenerationSummary], float]] = {
    "generation.best": lambda s: float(s["best"]),
    "generation.mean_retained": lambda s: float(s["mean_retained"]),
    "generation.hamming_min": lambda s: float(s["hamming_min"]),
    "generation.hamming_max": lambda s: float(s["hamming_max"]),
    "generation.significant": lambda s: float(s["significant"]),
    "generation.admitted": lambda s: float(len(s["selected"])),
    "generation.retained": lambda s: float(len(s["retained"])),
    "generation.members": lambda s: float(len(s["members"])),
    "generation.forced_mutations": lambda s: float(s["forced_mutations"]),
}


class TrackingError(RuntimeError):
    """MLflow cannot be reached or written to; the message says what to change."""


def resolve_tracking_uri(uri: str | None = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlruns/mlflow.db``."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def redact(url: str) -> str:
    """A storage URL without its password, fit for a tag."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
