"""What the tracker does while the MLflow tracking server is down.

MLflow's HTTP client retries a failed request itself (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``,
``..._BACKOFF_FACTOR``), which rides out a short outage: the search stalls, then goes on.
When the server stays down longer than that, the tracker must neither fail the trial nor
stall it for ever:

* the first trial that cannot be logged waits up to ``wait`` seconds for the server (once per
  outage, so that a long outage does not stall every trial);
* what could not be logged waits in :attr:`Outage.pending` and is written from the trial as
  Optuna stored it once the server answers again, its run tagged ``optuna_hamming.logged_late``;
* a trial that ends while the server is still down carries the user attribute
  ``mlflow.unlogged`` (what is missing), so that a later tracker on the same study, in any
  process, writes it too; and one :class:`TrackingOutageWarning` says so.

A run is looked up by its study and trial number before it is created, so no trial's run is
created twice, even when a request reached the server but its answer did not come back.

This module holds the server's state (:class:`Outage`: down or not, the bounded wait, the
queue of :class:`Pending` runs) and :meth:`Outage.safely`, which every write of the tracker
goes through; :mod:`optuna_hamming.tracking._late_runs` writes what waits.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mlflow.exceptions import MlflowException

DEFAULT_OUTAGE_WAIT = 120.0
# Late runs written at each trial's start: after a long outage thousands wait (seen in the
# soak), and writing all of them would stall one trial for minutes. finish() writes the rest.
FLUSH_PER_TRIAL = 16
UNLOGGED_ATTR = "mlflow.unlogged"  # trial user attribute: "run" or "outcome"
LATE_TAG = "optuna_hamming.logged_late"
_PROBE_TIMEOUT = 2.0
_POLL = 1.0
T = TypeVar("T")


class TrackingOutageWarning(UserWarning):
    """The MLflow server could not be reached; the runs are written when it is back."""


def is_unreachable(error: BaseException) -> bool:
    """True when ``error`` (or what raised it) says the server did not answer at all."""
    import requests

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, requests.ConnectionError | requests.Timeout | ConnectionError):
            return True
        if isinstance(current, MlflowException) and "Max retries exceeded" in current.message:
            return True
        current = current.__cause__ or current.__context__
    return False


@dataclass
class Pending:
    """A trial whose run could not be written: its run, if it was created, and the status
    to end it with when that is not what the trial's state gives (KILLED, FAILED)."""

    run_id: str | None
    status: str | None = None
    error: str | None = None  # the run's ``error`` tag (a dead worker's trial)


@dataclass
class Outage:
    """The tracker's view of its server: down or not, and what waits to be written (shared
    by the tracker and its late runs)."""

    uri: str
    wait: float = DEFAULT_OUTAGE_WAIT
    down: bool = False
    waited: bool = False  # the bounded wait of this outage is spent
    warned: bool = False
    pending: dict[int, Pending] = field(default_factory=dict)
    flushing: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.wait < 0:
            raise ValueError(f"outage_wait={self.wait!r} must be >= 0 seconds")

    def server_up(self) -> bool:
        """A cheap probe (``/health``) for HTTP servers; other stores count as up."""
        if not self.uri.startswith(("http://", "https://")):
            return True
        import requests

        insecure = os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true"
        verify: bool | str = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or not insecure
        try:
            requests.get(self.uri.rstrip("/") + "/health", timeout=_PROBE_TIMEOUT, verify=verify)
        except requests.RequestException:
            return False
        return True  # any answer, even 401 from a proxy: the server is there

    def safely(self, action: Callable[[], T]) -> T | None:
        """``action()``, or None (and the server marked down) when MLflow cannot be reached.
        While it is down, nothing is tried but a cheap probe."""
        if self.down:
            if not self.server_up():
                return None
            self.back()
        try:
            return action()
        except MlflowException as error:
            if not is_unreachable(error):
                raise
            self.lost()
            return None

    def lost(self) -> None:
        self.down = True

    def back(self) -> None:
        self.down = self.waited = False
        self.warned = False

    def wait_until_up(self) -> bool:
        """Wait up to ``wait`` seconds, once per outage, for the server; True if it is up."""
        if self.server_up():
            return True
        if self.waited:
            return False
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
            if self.server_up():
                return True
        self.waited = True
        return False

    def warn(self) -> None:
        if self.warned:
            return
        self.warned = True
        warnings.warn(
            f"MLflow at {self.uri} has not answered for {self.wait:.0f} s: the search goes on, "
            f"the runs of the trials it could not log are written when the server is back, "
            f"and until then those trials carry the user attribute {UNLOGGED_ATTR!r}",
            TrackingOutageWarning,
            stacklevel=3,
        )
