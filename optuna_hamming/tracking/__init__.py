"""MLflow tracking and plots of a study (layer 4): nothing below this layer imports MLflow.

One module per idea:

* :mod:`.mlflow_tracker`: :class:`StudyTracker`, the study's experiment and parent run, its
  generations, and the three ways in (wrapped objective, callback, dead trials);
* ``_trial_runs``: how one trial's run is found, created, given its outcome and closed;
* ``_late_runs``: the runs that wait for the server, written once it answers;
* :mod:`.outage`: the server's state while it is down, and the policy;
* ``_run_details``: what a run holds and how it reads (names, contents, dataset input);
* ``_names``: the tags, attributes and metric names written, the URI and the error;
* ``_experiment``: the study's experiment, found, made or restored;
* :mod:`.final_model`, :mod:`.dashboard_notes`, :mod:`.plots`: the model built from the best
  genome, optuna-dashboard notes, the paper's figures.
"""

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
