"""How the MLflow run of one trial is written: found by its study and trial number, created
under the study's run, given the trial's outcome and closed.

:class:`TrialRuns` is held by the tracker, which writes runs as trials go, and shared with
:class:`~optuna_hamming.tracking._late_runs.LateRuns`, which writes them after an outage, so
a run written late holds what one written on time does. It knows where runs go (the study's
experiment) and what they carry (the dataset, the name of the objective's metric); when to
write them, and what to do when the server is down, is the others' business.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming.sampler import HammingGASampler
from optuna_hamming.sampler.attributes import GENE_ATTR
from optuna_hamming.tracking._names import (
    GA_PARAMS,
    PARENT_TAG,
    ROLE_TAG,
    RUN_NAME_TAG,
    STATE_TAG,
    STUDY_TAG,
    TRIAL_TAG,
)
from optuna_hamming.tracking._run_details import (
    DatasetDescription,
    outcome_of,
    param_value,
    trial_run_name,
)

_MAX_BATCH = 1000  # MLflow's log_batch limit on metrics per call
_PAGE = 1000  # runs per page of a search


def stored_trial(trial: optuna.Trial) -> FrozenTrial:
    """``trial`` as its storage holds it now: the sampler writes ``ga.*`` in before_trial
    straight to storage, after the Trial object cached its attributes."""
    return trial.study._storage.get_trial(trial._trial_id)


class TrialRuns:
    """The trial runs of one study: where they go, what they carry, how each is written.

    Args:
        client: Gives the MLflow client (the tracker opens it on first use).
        metric_name: Name of the objective value's metric in every trial run.
        dataset: Logged as the dataset input of every trial run made from now on.
    """

    def __init__(
        self,
        client: Callable[[], MlflowClient],
        *,
        metric_name: str,
        dataset: DatasetDescription | None = None,
    ) -> None:
        self._client = client
        self.metric_name = metric_name
        self.dataset = dataset
        self.experiment_id: str | None = None  # set when the tracker opens the experiment

    @property
    def client(self) -> MlflowClient:
        return self._client()

    # -- finding ------------------------------------------------------------------------------

    def find(self, study_name: str, number: int) -> str | None:
        """The run of trial ``number`` of ``study_name``, if one was made."""
        assert self.experiment_id is not None
        quoted = _quoted(study_name)
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=(
                f"tags.`{STUDY_TAG}` = '{quoted}' and tags.`{TRIAL_TAG}` = '{number}' "
                f"and tags.`{ROLE_TAG}` = 'trial'"
            ),
            max_results=1,
        )
        return str(runs[0].info.run_id) if runs else None

    def closed_numbers(self, study_name: str) -> set[int]:
        """The trial numbers of ``study_name`` whose run is written and ended: one search,
        page by page, not one per trial."""
        assert self.experiment_id is not None
        quoted = _quoted(study_name)
        closed: set[int] = set()
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],
                filter_string=(
                    f"tags.`{STUDY_TAG}` = '{quoted}' and tags.`{ROLE_TAG}` = 'trial' "
                    "and attributes.status != 'RUNNING'"
                ),
                max_results=_PAGE,
                page_token=token,
            )
            closed.update(int(run.data.tags[TRIAL_TAG]) for run in page)
            token = page.token
            if not token:
                return closed

    # -- writing ------------------------------------------------------------------------------

    def create(
        self,
        study: optuna.Study,
        number: int,
        user_attrs: Mapping[str, Any],
        parent: str,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """A new RUNNING run for trial ``number`` under the study's run ``parent``."""
        assert self.experiment_id is not None
        run = self.client.create_run(
            self.experiment_id,
            run_name=trial_run_name(number, params or {}, user_attrs),
            tags={
                PARENT_TAG: parent,
                ROLE_TAG: "trial",
                STUDY_TAG: study.study_name,
                TRIAL_TAG: str(number),
            },
        )
        logged = [Param("trial_number", str(number))]
        logged += [Param(k, param_value(user_attrs[k])) for k in GA_PARAMS if k in user_attrs]
        self.client.log_batch(run.info.run_id, params=logged)
        if self.dataset is not None:
            self.client.log_inputs(run.info.run_id, [self.dataset.as_input("training")])
        return str(run.info.run_id)

    def finish(
        self,
        run_id: str,
        trial: optuna.Trial,
        value: float | None,
        state: TrialState,
        status: str | None = None,
    ) -> None:
        """Write the outcome of the running ``trial`` (as stored) to its run and end it."""
        stored = stored_trial(trial)
        user_attrs = dict(stored.user_attrs)
        sampler = trial.study.sampler
        if GENE_ATTR not in user_attrs and isinstance(sampler, HammingGASampler):
            # The sampler writes the gene of an initial individual only in after_trial,
            # which runs after the objective (and the tracker's wrapper) returns.
            gene = sampler.gene_of(stored)
            if gene is not None:
                user_attrs[GENE_ATTR] = gene
        self.log_outcome(
            run_id, trial.number, stored.params, user_attrs, stored.intermediate_values
        )
        self.close(run_id, value, state, status)

    def log_outcome(
        self,
        run_id: str,
        trial_number: int,
        params: Mapping[str, Any],
        user_attrs: Mapping[str, Any],
        intermediate: Mapping[int, float],
    ) -> None:
        """Log a trial's parameters and metrics, and rename its run after its genome."""
        logged, metrics = outcome_of(params, user_attrs, intermediate, int(time.time() * 1000))
        # The run's name gains the genome now that the objective has suggested it.
        name = RunTag(RUN_NAME_TAG, trial_run_name(trial_number, params, user_attrs))
        self.client.log_batch(run_id, params=logged, tags=[name])
        for first in range(0, len(metrics), _MAX_BATCH):
            self.client.log_batch(run_id, metrics=metrics[first : first + _MAX_BATCH])

    def close(
        self, run_id: str, value: float | None, state: TrialState, status: str | None = None
    ) -> None:
        """End a run with the trial's state and value; ``status`` defaults to the state's."""
        tags = [RunTag(STATE_TAG, state.name)]
        metrics = []
        if value is not None:
            metrics.append(Metric(self.metric_name, value, int(time.time() * 1000), 0))
        self.client.log_batch(run_id, metrics=metrics, tags=tags)
        if status is None:
            status = "FAILED" if state == TrialState.FAIL else "FINISHED"
        self.client.set_terminated(run_id, status=status)


def _quoted(value: str) -> str:
    """``value`` inside single quotes of an MLflow filter string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
