"""The runs that wait for the MLflow server: queued while it is down, written late once it
answers (see :mod:`optuna_hamming.tracking.outage` for what happens and why).

:class:`LateRuns` is an object the tracker holds, not a part of the tracker: it is given the
outage (the server's state and the queue), the study's :class:`TrialRuns` (how a run is
written) and a way to get the study's run, and needs nothing else of the tracker.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import optuna
from mlflow.exceptions import MlflowException
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming.storages import study_lock
from optuna_hamming.tracking._names import STATE_TAG
from optuna_hamming.tracking._trial_runs import TrialRuns, stored_trial
from optuna_hamming.tracking.outage import LATE_TAG, UNLOGGED_ATTR, Outage, Pending


class LateRuns:
    """Writing trial runs through an outage.

    Args:
        outage: The server's state and the runs that wait for it (shared with the tracker).
        runs: Writes a trial's run.
        parent_run: The study's run for a study, started if it is not yet.
    """

    def __init__(
        self, outage: Outage, runs: TrialRuns, parent_run: Callable[[optuna.Study], str]
    ) -> None:
        self.outage = outage
        self.runs = runs
        self._parent_run = parent_run

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
                replay = functools.partial(self.write_finished, study, trial, pending, late=True)
                if self.outage.safely(replay) is None:
                    break  # down again
            except MlflowException as error:  # e.g. its run deleted meanwhile: not retried
                warnings.warn(
                    f"the run of trial {number} could not be written late ({error.message})",
                    stacklevel=2,
                )
            self.outage.pending.pop(number, None)
            written += 1
        return written

    def write_finished(
        self, study: optuna.Study, trial: FrozenTrial, pending: Pending, *, late: bool
    ) -> bool:
        """Find or create the run of the finished ``trial``, write its outcome from what
        Optuna stored if missing, and end it; ``late`` tags it as written after the fact."""
        parent = self._parent_run(study)
        run_id = pending.run_id
        if run_id is None:
            # Another process may write the same trial now (a tracker starting on the study):
            # find-or-create under a lock of the trial's own, so that one run is made.
            key = f"mlflow-run:{trial.number}"
            with study_lock(study._storage, study.study_name, key, wait=60, stale_after=60):
                run_id = self.runs.find(study.study_name, trial.number) or self.runs.create(
                    study, trial.number, trial.user_attrs, parent, trial.params
                )
        client = self.runs.client
        run = client.get_run(run_id)
        if run.info.status == "RUNNING":
            if STATE_TAG not in run.data.tags:
                self.runs.log_outcome(
                    run_id, trial.number, trial.params, trial.user_attrs, trial.intermediate_values
                )
            if pending.error is not None:
                client.set_tag(run_id, "error", pending.error)
            value = trial.value if trial.state == TrialState.COMPLETE else None
            self.runs.close(run_id, value, trial.state, pending.status)
        if late and LATE_TAG not in run.data.tags:
            client.set_tag(run_id, LATE_TAG, "true")
        return True

    def queue_unlogged(self, study: optuna.Study) -> None:
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
        written = self.runs.closed_numbers(study.study_name)
        for number in sorted(unlogged - written):
            self.outage.pending.setdefault(number, Pending(None))

    def end_trial(
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
                self.runs.client.set_tag(run, "error", error)
            self.runs.finish(run, trial, value, state, status)
            return True

        if run_id is not None and self.outage.safely(lambda: write(run_id)):
            return
        if self.outage.wait_until_up():
            self.outage.back()

            def late() -> bool:
                parent = self._parent_run(trial.study)
                user_attrs = stored_trial(trial).user_attrs
                run = (
                    run_id
                    or self.runs.find(trial.study.study_name, trial.number)
                    or self.runs.create(trial.study, trial.number, user_attrs, parent)
                )
                write(run)
                self.runs.client.set_tag(run, LATE_TAG, "true")
                return True

            if self.outage.safely(late):
                return
        self._defer(trial, run_id, status)

    def _defer(self, trial: optuna.Trial, run_id: str | None, status: str | None) -> None:
        """Keep a running trial's run for later, and say so in the trial and once to the user."""
        missing = "outcome" if run_id is not None else "run"
        trial.study._storage.set_trial_user_attr(trial._trial_id, UNLOGGED_ATTR, missing)
        self.outage.pending[trial.number] = Pending(run_id, status)
        self.outage.warn()
