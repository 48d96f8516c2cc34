"""A storage that rides out a database or Redis server that restarts under a running study.

Optuna's storages make one attempt per call: when PostgreSQL restarts, or an administrator
ends every backend, the call in flight raises, and an exception inside ``study.tell`` leaves
the trial RUNNING for ever. :class:`ReconnectingStorage` wraps any storage and retries a call
that failed on a lost connection, with exponential backoff, for at most ``max_wait`` seconds;
then the error goes up as before. RDB storages opened here also get SQLAlchemy's
``pool_pre_ping``, so a connection the server closed while it sat in the pool is replaced
before use instead of failing the next call.

A journal in Redis gets :class:`ReconnectingJournalBackend` around its backend instead.

Retrying is safe because a call that failed on a lost connection did not commit, with one
narrow exception: the server commits and the connection drops before the acknowledgement
arrives. For attribute, parameter and intermediate-value writes a second write is the same
upsert. A COMPLETE or PRUNED state write that meets the trial already in that state has
succeeded (only the trial's own worker tells those). A new trial carries a creation token
(the trial system attribute ``CREATION_KEY``): a retry finds the trial the lost attempt
created rather than creating a second one that no worker would own. An atomic claim
(:mod:`.claims`) that finds its own owner holds the claim. Not covered: a Redis journal
entry appended twice (the ``eval`` that appends it committed, its answer was lost) replays
twice; it needs a lost acknowledgement, a window of microseconds per call, and was not seen
in the tests or the soak.
"""

from __future__ import annotations

import copy
import datetime
import logging
import time
import uuid
from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any, TypeVar

import sqlalchemy.exc as sa_exc
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import BaseJournalBackend
from optuna.storages.journal._base import BaseJournalSnapshot
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState

_logger = logging.getLogger(__name__)
T = TypeVar("T")

# A trial's creation token (ReconnectingStorage.create_new_trial), a trial system attribute.
CREATION_KEY = "optuna_hamming:creation"
DEFAULT_MAX_WAIT = 60.0  # a PostgreSQL restart takes seconds; a failover, tens of seconds
_FIRST_DELAY = 0.25
_MAX_DELAY = 8.0


def is_connection_error(error: BaseException) -> bool:
    """True when ``error`` (or what it was raised from) is a lost or refused connection."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_connection_error(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_connection_error(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | ConnectionError):
        return True
    try:
        import redis.exceptions as redis_errors  # optional: journal-redis storages only
    except ImportError:
        return False
    return isinstance(
        error,
        redis_errors.ConnectionError | redis_errors.TimeoutError | redis_errors.BusyLoadingError,
    )


class Reconnection:
    """The retry policy: ``call(action)`` retries ``action`` with exponential backoff while
    it fails on a lost connection, for at most ``max_wait`` seconds in all."""

    def __init__(self, max_wait: float = DEFAULT_MAX_WAIT) -> None:
        if max_wait < 0:
            raise ValueError(f"max_wait={max_wait!r} must be >= 0 seconds")
        self.max_wait = max_wait
        self.retried = 0  # calls that succeeded only after reconnecting, for reports

    def call(self, action: Callable[[], T], what: str = "a storage call") -> T:
        deadline = time.monotonic() + self.max_wait
        delay = _FIRST_DELAY
        failed = False
        while True:
            try:
                result = action()
            except Exception as error:
                if not is_connection_error(error) or time.monotonic() + delay > deadline:
                    raise
                if not failed:
                    _logger.warning("%s lost its connection (%s); retrying", what, error)
                failed = True
                time.sleep(delay)
                delay = min(2 * delay, _MAX_DELAY)
                continue
            if failed:
                self.retried += 1
                _logger.warning("%s succeeded after reconnecting", what)
            return result


class ReconnectingStorage(BaseStorage, BaseHeartbeat):
    """``storage`` with every call retried on a lost connection for up to ``max_wait`` s.

    For RDB storages, where each call is one transaction. Heartbeats pass through: the
    wrapper has a heartbeat interval exactly when ``storage`` has one, and the heartbeat
    thread's writes are retried like the rest. (A journal storage writes a log entry and
    then reads the log in one call, so retrying the call could write the entry twice: wrap
    its backend in :class:`ReconnectingJournalBackend` instead.)
    """

    def __init__(self, storage: BaseStorage, *, max_wait: float = DEFAULT_MAX_WAIT) -> None:
        self._backend = storage
        self.reconnection = Reconnection(max_wait)

    @property
    def url(self) -> str | None:
        return getattr(self._backend, "url", None)

    def call(self, action: Callable[[], T], what: str = "a storage call") -> T:
        return self.reconnection.call(action, what)

    def _retry(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._backend, name)
        return self.call(lambda: method(*args, **kwargs), name)

    # -- studies ------------------------------------------------------------------------------

    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        return int(self._retry("create_new_study", directions, study_name))

    def delete_study(self, study_id: int) -> None:
        self._retry("delete_study", study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._retry("set_study_user_attr", study_id, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._retry("set_study_system_attr", study_id, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return int(self._retry("get_study_id_from_name", study_name))

    def get_study_name_from_id(self, study_id: int) -> str:
        return str(self._retry("get_study_name_from_id", study_id))

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return list(self._retry("get_study_directions", study_id))

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._retry("get_study_user_attrs", study_id))

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._retry("get_study_system_attrs", study_id))

    def get_all_studies(self) -> list[FrozenStudy]:
        return list(self._retry("get_all_studies"))

    # -- trials -------------------------------------------------------------------------------

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        # Marked with a token, so that a retry after a lost commit acknowledgement finds the
        # trial it created instead of creating a second one that no worker would own.
        token = uuid.uuid4().hex
        template = _with_creation_token(template_trial, token)
        attempts = 0

        def create() -> int:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                # Every state: another worker may have popped an enqueued (WAITING) one.
                for trial in self._backend.get_all_trials(study_id, deepcopy=False):
                    if trial.system_attrs.get(CREATION_KEY) == token:
                        return trial._trial_id
            return int(self._backend.create_new_trial(study_id, template))

        trial_id = self.call(create, "create_new_trial")
        if template_trial is None or template_trial.state == TrialState.RUNNING:
            self._first_heartbeat(trial_id)
        return trial_id

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: Any
    ) -> None:
        self._retry("set_trial_param", trial_id, param_name, param_value_internal, distribution)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return int(self._retry("get_trial_id_from_study_id_trial_number", study_id, trial_number))

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return int(self._retry("get_trial_number_from_id", trial_id))

    def get_trial_param(self, trial_id: int, param_name: str) -> float:
        return float(self._retry("get_trial_param", trial_id, param_name))

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        attempts = 0

        def write() -> bool:
            nonlocal attempts
            attempts += 1
            try:
                return bool(self._backend.set_trial_state_values(trial_id, state, values))
            except UpdateFinishedTrialError:
                if attempts == 1:
                    raise
                # A retry that finds the trial finished: our write committed but lost its
                # acknowledgement, or another worker finished it. COMPLETE and PRUNED are
                # told only by the trial's own worker, so they were ours. A FAIL may be a
                # worker failing a stale trial: "not ours" then keeps its stale-trial
                # callback (a retry of the dead trial) from running twice.
                if state in (TrialState.COMPLETE, TrialState.PRUNED):
                    return self._backend.get_trial(trial_id).state == state
                if state == TrialState.FAIL:
                    return False
                raise

        updated = self.call(write, "set_trial_state_values")
        if updated and state == TrialState.RUNNING:  # an enqueued trial taken by this worker
            self._first_heartbeat(trial_id)
        return updated

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        self._retry("set_trial_intermediate_value", trial_id, step, intermediate_value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._retry("set_trial_user_attr", trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._retry("set_trial_system_attr", trial_id, key, value)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        trial: FrozenTrial = self._retry("get_trial", trial_id)
        return trial

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        return list(self._retry("get_all_trials", study_id, deepcopy=deepcopy, states=states))

    def get_n_trials(
        self, study_id: int, state: tuple[TrialState, ...] | TrialState | None = None
    ) -> int:
        return int(self._retry("get_n_trials", study_id, state))

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        trial: FrozenTrial = self._retry("get_best_trial", study_id)
        return trial

    def get_trial_user_attrs(self, trial_id: int) -> dict[str, Any]:
        return dict(self._retry("get_trial_user_attrs", trial_id))

    def get_trial_system_attrs(self, trial_id: int) -> dict[str, Any]:
        return dict(self._retry("get_trial_system_attrs", trial_id))

    def remove_session(self) -> None:
        self._backend.remove_session()

    # -- heartbeats ---------------------------------------------------------------------------

    def _heartbeat(self) -> BaseHeartbeat | None:
        return self._backend if isinstance(self._backend, BaseHeartbeat) else None

    def record_heartbeat(self, trial_id: int) -> None:
        heartbeat = self._heartbeat()
        if heartbeat is None:
            return
        try:
            self.call(lambda: heartbeat.record_heartbeat(trial_id), "record_heartbeat")
        except Exception as error:
            # Optuna's heartbeat thread has no try: raising would end it and leave a live
            # trial to be failed as stale. The next beat tries again.
            if not is_connection_error(error):
                raise
            _logger.warning("a heartbeat of trial %d was not recorded (%s)", trial_id, error)

    def _first_heartbeat(self, trial_id: int) -> None:
        # A trial is RUNNING from its creation, but Optuna's heartbeat thread starts only once
        # ask() (the sampler's before_trial) has returned, and a trial without any heartbeat
        # is never found stale: a worker killed inside ask() left it RUNNING for ever (seen
        # in the soak). Beating once at birth lets the usual grace period fail and retry it.
        if self.get_heartbeat_interval() is not None:
            self.record_heartbeat(trial_id)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        heartbeat = self._heartbeat()
        if heartbeat is None:
            return []
        return list(self.call(lambda: heartbeat._get_stale_trial_ids(study_id), "stale trials"))

    def get_heartbeat_interval(self) -> int | None:
        heartbeat = self._heartbeat()
        return None if heartbeat is None else heartbeat.get_heartbeat_interval()

    def get_heartbeat_stale_trial_callback(self) -> Callable[..., None] | None:
        heartbeat = self._heartbeat()
        return None if heartbeat is None else heartbeat.get_heartbeat_stale_trial_callback()

    def get_failed_trial_callback(self) -> Callable[..., None] | None:
        return self.get_heartbeat_stale_trial_callback()  # Optuna < 4.9 calls this name


class ReconnectingJournalBackend(BaseJournalBackend, BaseJournalSnapshot):
    """A journal backend (e.g. ``JournalRedisBackend``) whose reads and appends are retried
    on a lost connection. Each log entry is appended on its own (one atomic ``eval`` in
    Redis), so a retry writes again only the entry whose answer was lost, never the entries
    before it."""

    def __init__(self, backend: BaseJournalBackend, *, max_wait: float = DEFAULT_MAX_WAIT):
        self._backend = backend
        self.reconnection = Reconnection(max_wait)

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        return self.reconnection.call(
            lambda: list(self._backend.read_logs(log_number_from)), "read_logs"
        )

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        for log in logs:

            def append(entry: dict[str, Any] = log) -> None:
                self._backend.append_logs([entry])

            self.reconnection.call(append, "append_logs")

    def save_snapshot(self, snapshot: bytes) -> None:
        if isinstance(self._backend, BaseJournalSnapshot):
            backend = self._backend
            self.reconnection.call(lambda: backend.save_snapshot(snapshot), "save_snapshot")

    def load_snapshot(self) -> bytes | None:
        if not isinstance(self._backend, BaseJournalSnapshot):
            return None
        backend = self._backend
        return self.reconnection.call(backend.load_snapshot, "load_snapshot")


def _with_creation_token(template: FrozenTrial | None, token: str) -> FrozenTrial:
    """``template`` (or a new RUNNING trial's, as Optuna creates without one) holding
    ``token`` as its system attribute ``CREATION_KEY``."""
    if template is None:
        return FrozenTrial(
            number=-1,
            state=TrialState.RUNNING,
            value=None,
            datetime_start=datetime.datetime.now(),
            datetime_complete=None,
            params={},
            distributions={},
            user_attrs={},
            system_attrs={CREATION_KEY: token},
            intermediate_values={},
            trial_id=-1,
        )
    marked = copy.copy(template)
    marked.system_attrs = {**template.system_attrs, CREATION_KEY: token}
    return marked


def inner_storage(storage: BaseStorage) -> BaseStorage:
    """The storage under any :class:`ReconnectingStorage` wrappers."""
    while isinstance(storage, ReconnectingStorage):
        storage = storage._backend
    return storage


def retrying(storage: BaseStorage, action: Callable[[], T], what: str) -> T:
    """``action()`` with ``storage``'s reconnection policy, if it has one."""
    if isinstance(storage, ReconnectingStorage):
        return storage.call(action, what)
    return action()
