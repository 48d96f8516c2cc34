"""A soak: 8 workers on one PostgreSQL study, tracked in MLflow, while faults are injected.

Each worker runs the paper's GA (population 30) on the synthetic landscape with a sleep
objective, opens the storage as ``optuna-hamming search`` does (reconnection, pre-ping,
heartbeat with retry of a dead worker's trial) and logs every trial to a real MLflow server
through ``StudyTracker.track``. On a schedule the soak kills a worker with SIGKILL (and starts
another in its place), ends every PostgreSQL backend, restarts PostgreSQL (as root), and stops
the MLflow server, once for 5 minutes and once for 10 seconds. Traffic stays on 127.0.0.1.

Reported: trials per second, the faults injected, trials lost (seen finished by a worker but
not stored so, or left RUNNING), runs lost (a finished trial without its run) or duplicated,
and the generation sizes.

    python benchmarks/fault_soak.py                      # 20 minutes
    python benchmarks/fault_soak.py --minutes 3          # a quick look (fewer faults)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# The servers are started and awaited as the tests do it (tests/worker_pool.py).
sys.path.insert(0, str(ROOT / "tests"))
from worker_pool import free_port, wait_for  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POPULATION = 30
PAUSE = 0.5  # seconds per trial: the workers wait, the 2 cores do not
# MLflow's own retries, shortened so that the 5-minute outage outlasts them by far.
MLFLOW_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def worker(url: str, study_name: str, tracking_uri: str, deadline: float, out: str) -> None:
    """One worker process: trials until ``deadline`` (a time.time())."""
    import optuna

    from optuna_hamming import HammingGASampler
    from optuna_hamming.cli.common import StaleTrialHandler, open_storage
    from optuna_hamming.paper import synthetic_objective
    from optuna_hamming.tracking import StudyTracker, TrackingError

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    on_stale = StaleTrialHandler(max_retry=3)
    storage = open_storage(url, heartbeat=5, on_stale=on_stale)
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=HammingGASampler(population_size=POPULATION)
    )
    tracker = StudyTracker(tracking_uri=tracking_uri, outage_wait=30)
    on_stale.tracker = tracker
    # A worker that starts while the server is down waits for it: the study's parent run
    # must exist before trials are logged under it (the CLI refuses to start instead).
    while True:
        try:
            tracker.start(study)
            break
        except TrackingError:
            tracker._client = None
            time.sleep(5)

    def objective(trial: optuna.Trial) -> float:
        value = synthetic_objective(trial)
        time.sleep(PAUSE)
        return value

    def record(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        with open(out, "a") as file:
            file.write(f"{trial.number} {trial.state.name}\n")
        if time.time() > deadline:
            study.stop()

    study.optimize(tracker.track(objective), callbacks=[record])
    tracker.finish()


def _sql(url: str, statement: str) -> Any:
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool
    )
    try:
        with engine.connect() as connection:
            result = connection.execute(sqlalchemy.text(statement))
            return result.fetchall() if result.returns_rows else []
    finally:
        engine.dispose()


class Soak:
    def __init__(self, minutes: float, workers: int, tmp: Path, tail_wait: float = 900) -> None:
        self.minutes, self.n_workers, self.tmp = minutes, workers, tmp
        self.tail_wait = tail_wait
        self.database = f"soak_{uuid.uuid4().hex[:10]}"
        self.url = ADMIN_URL.rsplit("/", 1)[0] + "/" + self.database
        self.study_name = "soak"
        self.port = free_port()
        self.tracking_uri = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.faults: Counter[str] = Counter()
        self.log: list[tuple[float, str]] = []
        self.deadline = 0.0
        self.started = 0.0

    # -- services -----------------------------------------------------------------------------

    def start_server(self) -> None:
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{self.tmp / 'mlflow.db'}",
            "--artifacts-destination", str(self.tmp / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2",
        ]  # fmt: skip
        # A session of its own, so that stopping it stops its worker processes too.
        self.server = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for(f"{self.tracking_uri}/health")

    def stop_server(self) -> None:
        """SIGTERM, and SIGKILL after 20 s: a server busy with 8 clients once took more
        than a minute to stop gracefully (an outage is an outage either way)."""
        if self.server is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.pid, signal.SIGKILL)  # workers left behind, if any
            self.server = None

    def start_worker(self, index: int) -> subprocess.Popen[bytes]:
        code = (
            "import sys; sys.path.insert(0, 'benchmarks'); import fault_soak; "
            f"fault_soak.worker({self.url!r}, {self.study_name!r}, {self.tracking_uri!r}, "
            f"{self.deadline!r}, {str(self.tmp / f'worker{index}.log')!r})"
        )
        env = {**os.environ, **MLFLOW_ENV}
        return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)

    # -- faults -------------------------------------------------------------------------------

    def note(self, what: str) -> None:
        self.log.append((round(time.time() - self.started, 1), what))
        print(f"{time.time() - self.started:7.1f} s  {what}", flush=True)

    def kill_worker(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.workers))
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait()
        self.workers[index] = self.start_worker(len(self.workers) + self.faults["worker-kill"])
        self.faults["worker-kill"] += 1
        self.note(f"kill -9 worker {index}, started another")

    def end_backends(self) -> None:
        ended = _sql(
            ADMIN_URL,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{self.database}' AND pid <> pg_backend_pid()",
        )[0][0]
        self.faults["postgres-backends-ended"] += 1
        self.note(f"ended {ended} PostgreSQL backends")

    def restart_postgres(self) -> None:
        versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
        if os.geteuid() != 0 or not versions:
            self.note("PostgreSQL restart skipped (needs root)")
            return
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
            check=True,
            capture_output=True,
        )
        self.faults["postgres-restart"] += 1
        self.note("restarted PostgreSQL")

    def mlflow_outage(self, seconds: float) -> None:
        self.stop_server()
        self.note(f"MLflow server stopped for {seconds:.0f} s")
        self._sleep(seconds)
        self.start_server()
        self.faults[f"mlflow-outage-{seconds:.0f}s"] += 1
        self.note("MLflow server back")

    def _sleep(self, seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            for i, process in enumerate(self.workers):
                if process.poll() not in (None, 0):
                    raise RuntimeError(f"worker {i} failed with exit code {process.returncode}")
            time.sleep(min(1.0, max(0.0, end - time.time())))

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        import optuna

        _sql(ADMIN_URL, f'CREATE DATABASE "{self.database}"')
        try:
            self.start_server()
            optuna.create_study(study_name=self.study_name, storage=self.url, direction="maximize")
            self.started = time.time()
            self.deadline = self.started + 60 * self.minutes
            self.workers = [self.start_worker(i) for i in range(self.n_workers)]
            self.note(f"{self.n_workers} workers started")
            self.schedule()
            # After the deadline the workers finish their trials and write the runs an outage
            # left behind; a worker still at it when the wait runs out is reported as such
            # (its trials in progress and runs not yet written are counted apart, not lost).
            end = time.time() + self.tail_wait
            for process in self.workers:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(1.0, end - time.time()))
            elapsed = time.time() - self.started
            return self.report(elapsed)
        finally:
            for process in self.workers:
                if process.poll() is None:
                    process.kill()
            self.stop_server()
            _sql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def schedule(self) -> None:
        """Faults at fixed fractions of the run (20 min: a kill every 5 min, backends ended
        every 5 min, one PostgreSQL restart, a 5-minute and a 10-second MLflow outage)."""
        rng = random.Random(0)
        total = 60 * self.minutes
        plan: list[tuple[float, Any]] = [
            (0.10, lambda: self.kill_worker(rng)),
            (0.15, self.end_backends),
            (0.20, lambda: self.mlflow_outage(min(300.0, 0.25 * total))),
            (0.50, lambda: self.kill_worker(rng)),
            (0.55, self.end_backends),
            (0.60, self.restart_postgres),
            (0.65, lambda: self.kill_worker(rng)),
            (0.70, lambda: self.mlflow_outage(10.0)),
            (0.80, self.end_backends),
            (0.85, lambda: self.kill_worker(rng)),
        ]
        for fraction, inject in plan:
            wait = self.started + fraction * total - time.time()
            if wait > 0:
                self._sleep(wait)
            try:
                inject()
            except Exception as error:  # reported, not hidden: the soak goes on
                self.faults["injection-errors"] += 1
                self.note(f"a fault could not be injected: {type(error).__name__}: {error}")

    def report(self, elapsed: float) -> dict[str, Any]:
        import optuna
        from mlflow import MlflowClient
        from optuna.trial import TrialState

        from optuna_hamming import HammingGASampler
        from optuna_hamming.tracking._names import ROLE_TAG, RUN_ID_ATTR, TRIAL_TAG
        from optuna_hamming.tracking.outage import UNLOGGED_ATTR

        if self.server is None:
            self.start_server()
        study = optuna.load_study(study_name=self.study_name, storage=self.url)
        trials = study.get_trials(deepcopy=False)
        states = Counter(t.state.name for t in trials)
        by_number = {t.number: t for t in trials}
        seen = [
            line.split()
            for f in self.tmp.glob("worker*.log")
            for line in f.read_text().splitlines()
        ]
        lost = [n for n, s in seen if by_number[int(n)].state.name != s]
        running = [t.number for t in trials if t.state == TrialState.RUNNING]
        client = MlflowClient(self.tracking_uri)
        experiment = client.get_experiment_by_name(self.study_name)
        assert experiment is not None
        runs: Counter[int] = Counter()
        token = None
        while True:
            page = client.search_runs(
                [experiment.experiment_id], max_results=1000, page_token=token
            )
            for run in page:
                if run.data.tags.get(ROLE_TAG) == "trial":
                    runs[int(run.data.tags[TRIAL_TAG])] += 1
            token = page.token
            if not token:
                break
        finished = [t.number for t in trials if t.state.is_finished()]
        alive = sum(1 for process in self.workers if process.poll() is None)
        missing = [n for n in finished if runs[n] == 0]
        missing_runs = len(missing)
        # What a run-less trial looked like, so that a loss can be traced to its cause.
        missing_detail = [
            {
                "number": n,
                "state": by_number[n].state.name,
                "unlogged": by_number[n].user_attrs.get(UNLOGGED_ATTR),
                "run_id_recorded": RUN_ID_ATTR in by_number[n].system_attrs,
                "retry_of": by_number[n].system_attrs.get("failed_trial"),
            }
            for n in missing[:20]
        ]
        sizes = Counter(len(s["members"]) for s in HammingGASampler.generations(study).values())
        complete = states.get("COMPLETE", 0)
        return {
            "planned_minutes": self.minutes,
            "minutes": round(elapsed / 60, 1),
            "workers": self.n_workers,
            "trials": len(trials),
            "states": dict(states),
            "complete_per_second": round(complete / elapsed, 2),
            "faults": dict(self.faults),
            "workers_still_running": alive,
            # With every worker done a RUNNING trial is lost; with some still at work it may
            # be theirs, in progress, and a missing run may be one they have yet to write.
            "trials_lost": len(lost) + (0 if alive else len(running)),
            "trials_in_progress": len(running) if alive else 0,
            "runs_lost": 0 if alive else missing_runs,
            "runs_not_yet_written": missing_runs if alive else 0,
            "runs_duplicated": sum(1 for n in finished if runs[n] > 1),
            "trials_without_a_run": missing_detail,
            "generations": sum(sizes.values()),
            "generation_sizes": {str(k): v for k, v in sorted(sizes.items())},
            "log": self.log,
        }


def markdown(result: dict[str, Any], machine: str) -> str:
    faults = ", ".join(f"{k} x{v}" for k, v in result["faults"].items())
    rows = [
        ("minutes (the planned run, then the workers finishing)", result["minutes"]),
        ("workers", result["workers"]),
        ("trials (by state)", f"{result['trials']} {result['states']}"),
        ("complete trials per second", result["complete_per_second"]),
        (
            "faults injected (all survived: the study ran to its end)"
            if "injection-errors" not in result["faults"]
            else "faults (some could not be injected: see the log)",
            faults,
        ),
        ("trials lost", result["trials_lost"]),
        ("runs lost", result["runs_lost"]),
    ]
    if result["workers_still_running"]:
        rows += [
            ("workers still running when reported", result["workers_still_running"]),
            ("their trials in progress", result["trials_in_progress"]),
            ("runs not yet written by them", result["runs_not_yet_written"]),
        ]
    rows += [
        ("runs duplicated", result["runs_duplicated"]),
        ("generations (members: count)", f"{result['generations']} {result['generation_sizes']}"),
    ]
    lines = [
        f"Machine: {machine}. "
        f"`python benchmarks/fault_soak.py --minutes {result['planned_minutes']:g}`",
        "",
    ]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "Fault log (seconds from the start):", ""]
    lines += [f"- {t} s: {what}" for t, what in result["log"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--out", default="fault_soak")
    parser.add_argument(
        "--tail-wait", type=float, default=900, help="seconds to wait for workers after the end"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _timing import machine

    with tempfile.TemporaryDirectory() as tmp:
        result = Soak(args.minutes, args.workers, Path(tmp), args.tail_wait).run()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(result, machine()))
    print(markdown(result, machine()))


if __name__ == "__main__":
    main()
