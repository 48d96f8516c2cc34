"""What a study's runs hold and how they read in the MLflow UI: trial run names a person can
scan, a finished trial's parameters and metrics (values MLflow accepts), the dataset as an
MLflow dataset input, which fills the UI's Dataset column, and the address of a run's page.

Pure functions and values, no MLflow client: what is written, not when or how.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param

from optuna_hamming.paper import PAPER_SPACE
from optuna_hamming.sampler.attributes import GENE_ATTR, GENERATION_ATTR

_MAX_RUN_NAME = 250  # MLflow keeps run names up to 250 characters
CONTEXT_TAG = "mlflow.data.context"  # the tag the UI shows beside a dataset


def finite_number(value: Any) -> float | None:
    """``value`` as a metric's value: a finite int or float as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def param_value(value: Any) -> str:
    """``value`` as a parameter's text, cut to MLflow's 6,000 characters."""
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def run_page(ui_url: str, experiment_id: str, run_id: str) -> str:
    """The page of a run in the MLflow UI at ``ui_url``."""
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def trial_run_name(number: int, params: Mapping[str, Any], user_attrs: Mapping[str, Any]) -> str:
    """``t41 g3 512x2 elu adam``: trial, generation, then the genome.

    Heads of the paper's space read as width x depth, activation, optimizer; any other
    space as ``name=value`` pairs in the order the objective suggested them. Before the
    objective has suggested anything (the run of a trial that is starting) it is ``t41 g3``."""
    parts = [f"t{number}"]
    generation = user_attrs.get(GENERATION_ATTR)
    if isinstance(generation, int):
        parts.append(f"g{generation}")
    if set(PAPER_SPACE) <= set(params):
        parts += [
            f"{params['neurons']}x{params['layers']}",
            str(params["activation"]),
            str(params["optimizer"]),
        ]
    else:
        parts += [f"{name}={_short(value)}" for name, value in params.items()]
    return " ".join(parts)[:_MAX_RUN_NAME]


def outcome_of(
    params: Mapping[str, Any],
    user_attrs: Mapping[str, Any],
    intermediate: Mapping[int, float],
    now: int,
) -> tuple[list[Param], list[Metric]]:
    """A finished trial's run contents: its parameters and gene, and as metrics its numeric
    user attributes, its learning curves (step = epoch), else its intermediate values."""
    logged = [Param(k, param_value(v)) for k, v in params.items()]
    if GENE_ATTR in user_attrs:
        logged.append(Param(GENE_ATTR, str(user_attrs[GENE_ATTR])))
    metrics = []
    for key, value in user_attrs.items():
        if (number := finite_number(value)) is not None:
            metrics.append(Metric(key, number, now, 0))
    curves = user_attrs.get("curves")
    if isinstance(curves, dict):
        for key, values in curves.items():
            for epoch, value in enumerate(values):
                if (number := finite_number(value)) is not None:
                    metrics.append(Metric(key, number, now, epoch))
    else:
        for step, value in intermediate.items():
            if (number := finite_number(value)) is not None:
                metrics.append(Metric("intermediate_value", number, now, step))
    return logged, metrics


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class DatasetDescription:
    """The features a study trains on, as MLflow shows a dataset: a name, a digest of the
    features and labels (two studies on the same digest trained on the same data), a schema
    and a profile with the class counts."""

    name: str
    digest: str
    n_rows: int
    n_features: int
    class_counts: Mapping[str, int]
    source: str

    @classmethod
    def of(
        cls,
        name: str,
        X: npt.NDArray[np.floating[Any]],
        y: npt.NDArray[np.integer[Any]],
        class_names: Sequence[str],
        source: str = "",
    ) -> DatasetDescription:
        # The whole arrays, not a sample as mlflow.data.from_numpy hashes: a changed row
        # changes the digest. About 30 ms for 3,000 x 1,280 features.
        sha = hashlib.sha256()
        sha.update(np.ascontiguousarray(X, dtype=np.float32).tobytes())
        sha.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(class_names))
        return cls(
            name=name,
            digest=sha.hexdigest()[:16],
            n_rows=int(X.shape[0]),
            n_features=int(X.shape[1]),
            class_counts={str(c): int(n) for c, n in zip(class_names, counts, strict=True)},
            source=source or name,
        )

    def as_input(self, context: str) -> DatasetInput:
        """The dataset input of a run; ``context`` is what the UI shows beside it."""
        schema = {
            "mlflow_tensorspec": {
                "features": _tensor_spec("float32", [-1, self.n_features]),
                "targets": _tensor_spec("int64", [-1]),
            }
        }
        profile = {
            "num_rows": self.n_rows,
            "num_features": self.n_features,
            "class_counts": dict(self.class_counts),
        }
        dataset = Dataset(
            name=self.name,
            digest=self.digest,
            source_type="local",
            source=json.dumps({"uri": self.source}),
            schema=json.dumps(schema),
            profile=json.dumps(profile),
        )
        return DatasetInput(dataset=dataset, tags=[InputTag(CONTEXT_TAG, context)])


def _tensor_spec(dtype: str, shape: list[int]) -> str:
    # The schema format of mlflow.data's numpy datasets, which the UI's schema tab reads.
    return json.dumps([{"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}}])
