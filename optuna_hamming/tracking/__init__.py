"""MLflow tracking and plots of a study (layer 4): nothing below this layer imports MLflow."""

from optuna_hamming.tracking._names import (
    DEFAULT_TRACKING_URI,
    TrackingError,
    resolve_tracking_uri,
)
from optuna_hamming.tracking._run_details import DatasetDescription, trial_run_name
from optuna_hamming.tracking.mlflow_tracker import StudyTracker

__all__ = [
    "DEFAULT_TRACKING_URI",
    "DatasetDescription",
    "StudyTracker",
    "TrackingError",
    "resolve_tracking_uri",
    "trial_run_name",
]
