"""Starting and reaping worker processes in tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wait_all(workers: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Wait for every worker; kill the rest and fail if one fails or hangs."""
    try:
        codes = [w.wait(timeout=timeout) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert codes == [0] * len(workers), codes
