"""The MLflow experiment of a study: found, made (with its artifacts beside a sqlite store)
or restored from the trash. Apart from the tracker because it is the one place that knows
where a store keeps its files."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from optuna_hamming.tracking._names import TrackingError


def open_experiment(client: MlflowClient, name: str, tracking_uri: str) -> str:
    """The id of the experiment ``name``, made if missing and restored if deleted.

    With a sqlite store the artifacts go in ``artifacts/`` beside the database, not in the
    working directory where MLflow would put them."""
    path = _sqlite_path(tracking_uri)
    artifact_location = None
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrackingError(
                f"cannot create {path.parent} for the MLflow database ({error}); pass a "
                "writable --tracking-uri, e.g. sqlite:////tmp/mlruns/mlflow.db"
            ) from error
        artifact_location = (path.parent.resolve() / "artifacts").as_uri()
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise  # (else another study's worker made it just now)
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return str(experiment.experiment_id)


def _sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    return None
