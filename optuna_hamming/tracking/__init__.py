"""MLflow tracking and plots of a study (layer 4): nothing below this layer imports MLflow."""

from optuna_hamming.tracking._names import (
    DEFAULT_TRACKING_URI,
    TrackingError,
    resolve_tracking_uri,
)
from optuna_hamming.tracking.mlflow_tracker import StudyTracker

__all__ = ["DEFAULT_TRACKING_URI", "StudyTracker", "TrackingError", "resolve_tracking_uri"]
