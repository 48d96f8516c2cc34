"""Every trial of a study as an MLflow run, nested under one run per study.

:class:`StudyTracker` works three ways, all without a global lock around trials:

* ``tracker.track(objective)`` (or ``@tracker.track``) wraps an objective: each trial gets its
  own child run while it trains, so a trial that fails or is interrupted leaves a FAILED or
  KILLED run behind instead of nothing;
* ``study.optimize(objective, callbacks=[tracker])`` logs each finished trial afterwards, for
  objectives one cannot wrap;
* ``tracker.log_final_model(...)`` logs the model built from the best genome.

Everything goes through :class:`mlflow.MlflowClient` with explicit run ids: MLflow's fluent
API keeps its active-run stack per thread, which is why optuna-integration's MLflowCallback
serialises all trials behind one lock. Here threads only share a lock for the few writes of a
closing generation, never while an objective runs. Outages: :mod:`.outage`.

This module owns the study's side: its experiment and parent run, the generations logged on
it, and the three ways in. The tracker holds two helpers rather than being them: a
:class:`~optuna_hamming.tracking._trial_runs.TrialRuns`, which writes one trial's run, and a
:class:`~optuna_hamming.tracking._late_runs.LateRuns`, which writes the runs that waited for
the server.
"""

from __future__ import annotations

import functools
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.exc import SQLAlchemyError

from optuna_hamming.sampler.attributes import read_generations
from optuna_hamming.storages import study_lock
from optuna_hamming.tracking._experiment import open_experiment
from optuna_hamming.tracking._late_runs import LateRuns
from optuna_hamming.tracking._names import (
    GENERATION_METRICS,
    PARENT_RUN_ATTR,
    ROLE_TAG,
    RUN_ID_ATTR,
    STORAGE_TAG,
    STUDY_TAG,
    TrackingError,
    redact,
    resolve_tracking_uri,
)
from optuna_hamming.tracking._run_details import (
    DatasetDescription,
    finite_number,
    param_value,
    run_page,
)
from optuna_hamming.tracking._trial_runs import TrialRuns, stored_trial
from optuna_hamming.tracking.outage import (
    DEFAULT_OUTAGE_WAIT,
    FLUSH_PER_TRIAL,
    UNLOGGED_ATTR,
    Outage,
    Pending,
)

_DEAD = "the worker stopped sending heartbeats (killed or lost); Optuna failed it"


class StudyTracker:
    """Logs an Optuna study to MLflow: one experiment, a parent run, a child run per trial.

    Args:
        tracking_uri: Where runs go; default ``$MLFLOW_TRACKING_URI`` or
            ``sqlite:///mlruns/mlflow.db`` (artifacts then under ``mlruns/artifacts``).
        experiment_name: Default: the study's name.
        run_params: Logged on the parent run (dataset, backbone, sampler settings, ...).
        metric_name: Name of the objective value's metric in every child run.
        outage_wait: How long the first trial that cannot be logged waits for the server
            to come back (once per outage; see :mod:`optuna_hamming.tracking.outage`).
        dataset: The features the study trains on, logged as the dataset input of the
            study's run and of every trial run (or later, with :meth:`use_dataset`).
        ui_url: The MLflow UI of ``tracking_uri``, for :meth:`run_url` (default: the
            tracking URI when it is a server, else none).
    """

    def __init__(
        self,
        *,
        tracking_uri: str | None = None,
        experiment_name: str | None = None,
        run_params: Mapping[str, Any] | None = None,
        metric_name: str = "macro_f1",
        outage_wait: float = DEFAULT_OUTAGE_WAIT,
        dataset: DatasetDescription | None = None,
        ui_url: str | None = None,
    ) -> None:
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment_name = experiment_name
        self.run_params = dict(run_params or {})
        self._client: MlflowClient | None = None
        self.parent_run_id: str | None = None
        self._lock = threading.Lock()
        self._logged_generations: set[int] = set()
        self._wrapped_trials: set[int] = set()
        self.outage = Outage(self.tracking_uri, outage_wait)
        # Where trial runs go and what they carry; the experiment is set by start().
        self.runs = TrialRuns(lambda: self.client, metric_name=metric_name, dataset=dataset)
        self.late = LateRuns(self.outage, self.runs, self._parent_run)
        self._study: optuna.Study | None = None
        self.logged_runs: dict[int, str] = {}  # trial number -> run, of runs the callback made
        served = self.tracking_uri.startswith(("http://", "https://"))
        self.ui_url = ui_url or (self.tracking_uri if served else None)

    @property
    def client(self) -> MlflowClient:
        """The MLflow client (created on first use: creating it opens the store)."""
        if self._client is None:
            try:
                self._client = MlflowClient(tracking_uri=self.tracking_uri)
                self._client.search_experiments(max_results=1)  # fail here, not mid-study
            except (OSError, MlflowException, SQLAlchemyError) as error:
                raise TrackingError(
                    f"cannot open the MLflow store {self.tracking_uri} "
                    f"({type(error).__name__}: {str(error).splitlines()[0]}); pass a writable "
                    "--tracking-uri, e.g. sqlite:////tmp/mlruns/mlflow.db, or start the server"
                ) from error
        return self._client

    @property
    def experiment_id(self) -> str | None:
        """The id of the study's MLflow experiment, once :meth:`start` has opened it."""
        return self.runs.experiment_id

    @property
    def dataset(self) -> DatasetDescription | None:
        """The dataset input of the study's run and of every trial run made from now on."""
        return self.runs.dataset

    @dataset.setter
    def dataset(self, dataset: DatasetDescription | None) -> None:
        self.runs.dataset = dataset

    @property
    def metric_name(self) -> str:
        """Name of the objective value's metric in every trial run."""
        return self.runs.metric_name

    @metric_name.setter
    def metric_name(self, name: str) -> None:
        self.runs.metric_name = name

    # -- the study's experiment and parent run ------------------------------------------------

    def start(self, study: optuna.Study) -> str:
        """The parent run of ``study`` (created, or found again when a study continues).

        Workers in other processes or machines that start the same study at the same
        moment take a lock in the study's storage first, so they share one parent run."""
        with self._lock:
            if self.parent_run_id is None:
                with study_lock(
                    study._storage, study.study_name, "mlflow-parent", wait=90, stale_after=60
                ):
                    self._start(study)
            assert self.parent_run_id is not None
            return self.parent_run_id

    def _parent_run(self, study: optuna.Study) -> str:
        # For the late runs: the parent run, and no wait for the lock once it exists.
        return self.start(study) if self.parent_run_id is None else self.parent_run_id

    def _start(self, study: optuna.Study) -> None:
        name = self.experiment_name or study.study_name
        try:
            self.runs.experiment_id = open_experiment(self.client, name, self.tracking_uri)
            self.parent_run_id = self._find_parent(study) or self._create_parent(study)
            if self.dataset is not None:
                self.client.log_inputs(self.parent_run_id, [self.dataset.as_input("training")])
            for metric in self.client.get_metric_history(self.parent_run_id, "generation.best"):
                self._logged_generations.add(int(metric.step))
            self._study = study
            # Written by the next flush, outside the parent's lock.
            self.late.queue_unlogged(study)
        except MlflowException as error:
            raise TrackingError(
                f"MLflow at {self.tracking_uri} refused or could not be reached: "
                f"{error.message}. Check the server is up, or pass another --tracking-uri"
            ) from error

    def _find_parent(self, study: optuna.Study) -> str | None:
        known = study.user_attrs.get(PARENT_RUN_ATTR, {})
        run_id = known.get(self.tracking_uri) if isinstance(known, dict) else None
        if run_id is None:
            return None
        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return None  # deleted, or another tracking server
        if run.info.lifecycle_stage != "active":
            return None
        if run.info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        return str(run_id)

    def _create_parent(self, study: optuna.Study) -> str:
        assert self.experiment_id is not None
        storage = getattr(study._storage, "url", None) or type(study._storage).__name__
        run = self.client.create_run(
            self.experiment_id,
            run_name=study.study_name,
            tags={
                ROLE_TAG: "study",
                STUDY_TAG: study.study_name,
                STORAGE_TAG: redact(str(storage)),
                "optuna.direction": study.direction.name.lower(),
            },
        )
        params = [Param(k, param_value(v)) for k, v in sorted(self.run_params.items())]
        for first in range(0, len(params), 100):
            self.client.log_batch(run.info.run_id, params=params[first : first + 100])
        known = study.user_attrs.get(PARENT_RUN_ATTR, {})
        known = dict(known) if isinstance(known, dict) else {}
        known[self.tracking_uri] = run.info.run_id
        study.set_user_attr(PARENT_RUN_ATTR, known)
        return str(run.info.run_id)

    def use_dataset(self, dataset: DatasetDescription) -> None:
        """Log ``dataset`` on the study's run (if started) and on every trial run from now
        on: for callers that know the features only after the study's run exists."""
        self.dataset = dataset
        parent = self.parent_run_id
        if parent is not None:
            self.outage.safely(
                lambda: self.client.log_inputs(parent, [dataset.as_input("training")])
            )

    def run_url(self, run_id: str) -> str | None:
        """The page of ``run_id`` in the MLflow UI, when the UI's address is known."""
        if self.ui_url is None or self.experiment_id is None:
            return None
        return run_page(self.ui_url, self.experiment_id, run_id)

    def finish(self, status: str = "FINISHED") -> None:
        """Close the parent run (FINISHED, FAILED or KILLED); a rerun opens it again.

        Runs still waiting for the server are written first if it comes back within
        ``outage_wait``; otherwise their trials keep ``mlflow.unlogged`` for the next run."""
        parent, study = self.parent_run_id, self._study
        if parent is None or study is None:
            return
        if self.outage.pending and self.outage.wait_until_up():
            self.flush(study)
        if self.outage.pending:
            warnings.warn(
                f"{len(self.outage.pending)} trial runs could not be written to MLflow at "
                f"{self.tracking_uri}; their trials carry the user attribute {UNLOGGED_ATTR!r} "
                "and are written when this study is tracked again",
                stacklevel=2,
            )
        self.outage.safely(lambda: self.client.set_terminated(parent, status=status))

    def flush(self, study: optuna.Study, limit: int | None = None) -> int:
        """Write up to ``limit`` (default: all) of the runs that wait for the server, if it
        answers; the number written. One thread flushes at a time; the others go on."""
        return self.late.flush(study, limit)

    # -- trials -------------------------------------------------------------------------------

    def track(self, objective: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
        """Wrap ``objective`` so every trial trains inside its own child run."""

        @functools.wraps(objective)
        def tracked(trial: optuna.Trial) -> float:
            parent = self.start(trial.study)
            self.flush(trial.study, limit=FLUSH_PER_TRIAL)
            # The sampler writes ga.* in before_trial straight to storage, after the Trial
            # object cached its attributes: read them back from storage.
            user_attrs = stored_trial(trial).user_attrs
            run_id = self.outage.safely(
                lambda: self.runs.create(trial.study, trial.number, user_attrs, parent)
            )
            if run_id is not None:
                # Where another worker finds the run if this one dies (close_dead_trial).
                trial.study._storage.set_trial_system_attr(trial._trial_id, RUN_ID_ATTR, run_id)
            self._wrapped_trials.add(trial.number)
            try:
                value = objective(trial)
            except optuna.TrialPruned:
                self.late.end_trial(run_id, trial, None, TrialState.PRUNED)
                raise
            except KeyboardInterrupt:
                self.late.end_trial(run_id, trial, None, TrialState.FAIL, status="KILLED")
                raise
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"[:5000]
                self.late.end_trial(run_id, trial, None, TrialState.FAIL, error=reason)
                raise
            number = finite_number(value)
            state = TrialState.COMPLETE if number is not None else TrialState.FAIL
            self.late.end_trial(run_id, trial, number, state)
            self.log_generations(trial.study)
            return value

        return tracked

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Optuna callback: log a finished trial (unless ``track`` already did) and the
        generations it closed."""
        parent = self.start(study)
        self.flush(study, limit=FLUSH_PER_TRIAL)
        if trial.number not in self._wrapped_trials:

            def log() -> bool:
                run_id = self.runs.create(
                    study, trial.number, trial.user_attrs, parent, trial.params
                )
                self.runs.log_outcome(
                    run_id, trial.number, trial.params, trial.user_attrs, trial.intermediate_values
                )
                value = trial.value if trial.state == TrialState.COMPLETE else None
                self.runs.close(run_id, value, trial.state)
                self.logged_runs[trial.number] = run_id
                return True

            if self.outage.safely(log) is None:
                # A finished trial takes no more attributes: the run waits in this process.
                self.outage.pending[trial.number] = Pending(None)
                if not self.outage.wait_until_up():
                    self.outage.warn()
                self.flush(study)
        self.log_generations(study)

    def close_dead_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """End the run of a trial whose worker died as FAILED.

        For Optuna's ``heartbeat_stale_trial_callback``: the worker that finds the stale
        trial calls it (the dead one never reaches its own ``except``)."""
        run_id = trial.system_attrs.get(RUN_ID_ATTR)
        # No run recorded: the worker died before it made one (or before it said so), e.g.
        # while writing late runs at the trial's start. Found or made, so no trial lacks one.
        pending = Pending(run_id if isinstance(run_id, str) else None, "FAILED", _DEAD)
        try:
            finish = functools.partial(self.late.write_finished, study, trial, pending, late=False)
            if self.outage.safely(finish):
                return
            self.outage.pending[trial.number] = pending
        except MlflowException:
            pass  # deleted meanwhile: nothing to close

    # -- generations --------------------------------------------------------------------------

    def log_generations(self, study: optuna.Study) -> list[int]:
        """Log the generations closed since the last call on the parent (step = generation)."""
        parent = self.start(study)
        with self._lock:
            closed = read_generations(study)
            new = {g: s for g, s in closed.items() if g not in self._logged_generations}
            now = int(time.time() * 1000)
            metrics = [
                Metric(name, read(summary), now, g)
                for g, summary in new.items()
                for name, read in GENERATION_METRICS.items()
            ]
            if (
                metrics
                and self.outage.safely(lambda: self.client.log_batch(parent, metrics=metrics) or 1)
                is None
            ):
                return []  # the server is down: these go with the next call
            self._logged_generations.update(new)
        return sorted(new)
