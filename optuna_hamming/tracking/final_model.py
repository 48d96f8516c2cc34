"""The model built from the best genome, logged with ``mlflow.keras.log_model``.

It goes into its own child run (``final-model``) under the study's parent run, with the test
scores as metrics on both, the class names, the classification report and the confusion
matrix as artifacts, and a tensor signature. ``input_example`` is broken in MLflow 3.17, so
an example batch is logged as a separate ``.npy`` artifact instead.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import mlflow
import mlflow.keras
import numpy as np
import numpy.typing as npt
from mlflow.entities import Metric, Param
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from optuna_hamming.tracking._names import PARENT_TAG, ROLE_TAG, STUDY_TAG
from optuna_hamming.tracking.mlflow_tracker import StudyTracker


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    model_uri: str  # loadable with mlflow.keras.load_model / mlflow.pyfunc.load_model
    registered_version: str | None


def _installed(distribution: str) -> str | None:
    try:
        return f"{distribution}=={importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return None


def pip_requirements() -> list[str]:
    """What loading the model needs: Keras, its current backend and numpy. Given explicitly
    because MLflow's inference of them reloads the model in a subprocess (slow)."""
    backend = {
        "tensorflow": ("tensorflow-cpu", "tensorflow"),
        "jax": ("jax", "jaxlib"),
        "torch": ("torch",),
    }.get(keras.backend.backend(), ())
    found = [_installed("keras"), _installed("numpy"), _installed("h5py")]
    for name in backend:
        found.append(_installed(name))
    return [r for r in found if r is not None]


def tensor_signature(input_shape: Sequence[int | None], n_classes: int) -> ModelSignature:
    """float32 batches of ``input_shape`` in, class probabilities out."""
    shape = (-1, *(-1 if d is None else int(d) for d in input_shape))
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), shape)]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, n_classes))]),
    )


@contextlib.contextmanager
def _failed_on_error(client: mlflow.MlflowClient, run_id: str) -> Iterator[None]:
    """A full disk, a lost server, Ctrl-C: the run says so instead of staying RUNNING."""
    try:
        yield
    except BaseException as error:
        with contextlib.suppress(Exception):
            client.set_tag(run_id, "error", f"{type(error).__name__}: {error}"[:5000])
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, status="FAILED")
        raise


def log_final_model(
    tracker: StudyTracker,
    model: keras.Model,
    *,
    class_names: Sequence[str],
    test_scores: Mapping[str, float],
    params: Mapping[str, Any],
    example: npt.NDArray[np.float32],
    report: Mapping[str, Any] | None = None,
    confusion: Sequence[Sequence[int]] | None = None,
    name: str = "image_classifier",
    registered_model_name: str | None = None,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> LoggedModel:
    """Log ``model`` (inputs like ``example``) in a ``final-model`` run under the parent;
    ``extra`` maps artifact file names to JSON documents (an ensemble's members)."""
    if tracker.parent_run_id is None or tracker.experiment_id is None:
        raise RuntimeError("call tracker.start(study) before logging the final model")
    client = tracker.client
    parent = client.get_run(tracker.parent_run_id)
    run = client.create_run(
        tracker.experiment_id,
        run_name="final-model",
        tags={
            PARENT_TAG: tracker.parent_run_id,
            ROLE_TAG: "final-model",
            STUDY_TAG: parent.data.tags.get(STUDY_TAG, ""),
        },
    )
    run_id = run.info.run_id
    with _failed_on_error(client, run_id):
        now = int(time.time() * 1000)
        metrics = [Metric(f"test_{k}", float(v), now, 0) for k, v in test_scores.items()]
        client.log_batch(
            run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in params.items()]
        )
        client.log_batch(tracker.parent_run_id, metrics=metrics)
        if tracker.dataset is not None:
            client.log_inputs(run_id, [tracker.dataset.as_input("training")])
        client.log_dict(run_id, {"class_names": list(class_names)}, "labels.json")
        if report is not None:
            client.log_dict(run_id, dict(report), "classification_report.json")
        if confusion is not None:
            matrix = {"confusion_matrix": [list(r) for r in confusion]}
            client.log_dict(run_id, matrix, "confusion.json")
        for file_name, document in (extra or {}).items():
            client.log_dict(run_id, dict(document), file_name)
        with tempfile.TemporaryDirectory() as scratch:
            example_path = Path(scratch) / "input_example.npy"
            buffer = io.BytesIO()
            np.save(buffer, example.astype(np.float32))
            example_path.write_bytes(buffer.getvalue())
            client.log_artifact(run_id, str(example_path))
        signature = tensor_signature(example.shape[1:], len(class_names))
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(tracker.tracking_uri)
        try:
            with mlflow.start_run(run_id=run_id):
                info = mlflow.keras.log_model(
                    model,
                    name=name,
                    signature=signature,
                    pip_requirements=pip_requirements(),
                    registered_model_name=registered_model_name,
                    metadata={"class_names": list(class_names), **dict(test_scores)},
                )
        finally:
            mlflow.set_tracking_uri(previous)
        version = info.registered_model_version
        return LoggedModel(run_id, info.model_uri, None if version is None else str(version))


def load_logged_model(tracker: StudyTracker, model_uri: str) -> Any:
    """``mlflow.pyfunc.load_model(model_uri)`` against the tracker's tracking URI."""
    import mlflow.pyfunc

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracker.tracking_uri)
    try:
        return mlflow.pyfunc.load_model(model_uri)
    finally:
        mlflow.set_tracking_uri(previous)
