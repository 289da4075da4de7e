"""Shared by the test fixtures (tests/batch_testbeds.py) and the benchmarks: is a test-bed
daemon running, and a machine-wide lock so two processes never start or stop a test bed at once."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def pid_alive(pidfile: Path) -> bool:
    """Whether the process recorded in ``pidfile`` runs."""
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


@contextlib.contextmanager
def testbed_lock(kind: str) -> Iterator[None]:
    """Serialise start/stop of one test bed between processes on this machine."""
    path = Path(tempfile.gettempdir()) / f"dask-cluster-launcher-testbed-{kind}.lock"
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
