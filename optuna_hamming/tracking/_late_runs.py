"""The part of :class:`~optuna_hamming.tracking.StudyTracker` that works while the MLflow
server is down (see :mod:`optuna_hamming.tracking.outage` for what it does and why)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import optuna
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming.storages import study_lock
from optuna_hamming.tracking._names import ROLE_TAG, STATE_TAG, STUDY_TAG, TRIAL_TAG
from optuna_hamming.tracking.outage import (
    LATE_TAG,
    UNLOGGED_ATTR,
    Outage,
    Pending,
    is_unreachable,
)

T = TypeVar("T")
_PAGE = 1000  # runs per page of a search


class LateRuns:
    """Mixin of StudyTracker: writing through an outage. The tracker provides the rest."""

    outage: Outage
    experiment_id: str | None
    parent_run_id: str | None

    @property
    def client(self) -> MlflowClient:
        raise NotImplementedError

    def start(self, study: optuna.Study) -> str:
        raise NotImplementedError

    def _create_trial_run(
        self,
        study: optuna.Study,
        number: int,
        user_attrs: Mapping[str, Any],
        parent: str,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        raise NotImplementedError

    def _finish_trial_run(
        self,
        run_id: str,
        trial: optuna.Trial,
        value: float | None,
        state: TrialState,
        status: str | None = None,
    ) -> None:
        raise NotImplementedError

    def _log_outcome(
        self,
        run_id: str,
        trial_number: int,
        params: Mapping[str, Any],
        user_attrs: Mapping[str, Any],
        intermediate: Mapping[int, float],
    ) -> None:
        raise NotImplementedError

    def _close_run(
        self, run_id: str, value: float | None, state: TrialState, status: str | None = None
    ) -> None:
        raise NotImplementedError

    def _safely(self, action: Callable[[], T]) -> T | None:
        """``action()``, or None (and the server marked down) when MLflow cannot be reached.
        While it is down, nothing is tried but a cheap probe."""
        if self.outage.down:
            if not self.outage.server_up():
                return None
            self.outage.back()
        try:
            return action()
        except MlflowException as error:
            if not is_unreachable(error):
                raise
            self.outage.lost()
            return None

    def flush(self, study: optuna.Study, limit: int | None = None) -> int:
        """Write up to ``limit`` (default: all) of the runs that wait for the server, if it
        answers; the number written. One thread flushes at a time; the others go on."""
        if not self.outage.pending or not self.outage.flushing.acquire(blocking=False):
            return 0
        try:
            return self._flush(study, limit)
        finally:
            self.outage.flushing.release()

    def _flush(self, study: optuna.Study, limit: int | None) -> int:
        if self.outage.down and not self.outage.server_up():
            return 0
        written = 0
        for number, pending in sorted(self.outage.pending.items()):
            if limit is not None and written >= limit:
                break
            storage = study._storage
            trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
            trial = storage.get_trial(trial_id)
            if not trial.state.is_finished():
                continue  # its worker (this one, in another thread) is still telling it
            try:
                if self._safely(functools.partial(self._replay, study, trial, pending)) is None:
                    break  # down again
            except MlflowException as error:  # e.g. its run deleted meanwhile: not retried
                warnings.warn(
                    f"the run of trial {number} could not be written late ({error.message})",
                    stacklevel=2,
                )
            self.outage.pending.pop(number, None)
            written += 1
        return written

    def _replay(self, study: optuna.Study, trial: FrozenTrial, pending: Pending) -> bool:
        """Write the run of a finished trial from what Optuna stored, without a second run."""
        return self._write_finished(study, trial, pending, late=True)

    def _write_finished(
        self, study: optuna.Study, trial: FrozenTrial, pending: Pending, *, late: bool
    ) -> bool:
        """Find or create the run of the finished ``trial``, write its outcome if missing and
        end it; ``late`` tags it as written after the fact."""
        parent = self.start(study) if self.parent_run_id is None else self.parent_run_id
        run_id = pending.run_id
        if run_id is None:
            # Another process may write the same trial now (a tracker starting on the study):
            # find-or-create under a lock of the trial's own, so that one run is made.
            key = f"mlflow-run:{trial.number}"
            with study_lock(study._storage, study.study_name, key, wait=60, stale_after=60):
                run_id = self._find_trial_run(
                    study.study_name, trial.number
                ) or self._create_trial_run(
                    study, trial.number, trial.user_attrs, parent, trial.params
                )
        run = self.client.get_run(run_id)
        if run.info.status == "RUNNING":
            if STATE_TAG not in run.data.tags:
                self._log_outcome(
                    run_id, trial.number, trial.params, trial.user_attrs, trial.intermediate_values
                )
            if pending.error is not None:
                self.client.set_tag(run_id, "error", pending.error)
            value = trial.value if trial.state == TrialState.COMPLETE else None
            self._close_run(run_id, value, trial.state, pending.status)
        if late and LATE_TAG not in run.data.tags:
            self.client.set_tag(run_id, LATE_TAG, "true")
        return True

    def _queue_unlogged(self, study: optuna.Study) -> None:
        """Queue the trials an earlier tracker could not log (the server was down when they
        ended), unless their run was written since: one search, not one per trial, since
        after a long outage thousands carry the attribute."""
        unlogged = {
            t.number
            for t in study.get_trials(deepcopy=False)
            if UNLOGGED_ATTR in t.user_attrs and t.state.is_finished()
        }
        if not unlogged:
            return
        assert self.experiment_id is not None
        quoted = _quoted(study.study_name)
        written: set[int] = set()
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
            written.update(int(run.data.tags[TRIAL_TAG]) for run in page)
            token = page.token
            if not token:
                break
        for number in sorted(unlogged - written):
            self.outage.pending.setdefault(number, Pending(None))

    def _find_trial_run(self, study_name: str, number: int) -> str | None:
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

    def _defer(self, trial: optuna.Trial, run_id: str | None, status: str | None) -> None:
        """Keep a running trial's run for later, and say so in the trial and once to the user."""
        missing = "outcome" if run_id is not None else "run"
        trial.study._storage.set_trial_user_attr(trial._trial_id, UNLOGGED_ATTR, missing)
        self.outage.pending[trial.number] = Pending(run_id, status)
        self.outage.warn()

    def _end_trial(
        self,
        run_id: str | None,
        trial: optuna.Trial,
        value: float | None,
        state: TrialState,
        status: str | None = None,
        error: str | None = None,
    ) -> None:
        """Finish the run of a wrapped trial; while the server is down, wait for it (once per
        outage), then write the run late or leave it pending."""

        def write(run: str) -> bool:
            if error is not None:
                self.client.set_tag(run, "error", error)
            self._finish_trial_run(run, trial, value, state, status)
            return True

        if run_id is not None and self._safely(lambda: write(run_id)):
            return
        if self.outage.wait_until_up():
            self.outage.back()

            def late() -> bool:
                parent = self.start(trial.study)
                user_attrs = _stored(trial).user_attrs
                run = (
                    run_id
                    or self._find_trial_run(trial.study.study_name, trial.number)
                    or self._create_trial_run(trial.study, trial.number, user_attrs, parent)
                )
                write(run)
                self.client.set_tag(run, LATE_TAG, "true")
                return True

            if self._safely(late):
                return
        self._defer(trial, run_id, status)


def _quoted(value: str) -> str:
    """``value`` inside single quotes of an MLflow filter string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _stored(trial: optuna.Trial) -> FrozenTrial:
    return trial.study._storage.get_trial(trial._trial_id)
