"""What keeps a cluster host small (issue 26: memory per idle cluster on a shared login node):
it imports distributed without numpy, and multiprocessing's resource tracker is a fork of it
(its pages shared) rather than a new Python (6-7 MB PSS each), and still unlinks what a killed
host leaves.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

PACKAGE = Path(__file__).resolve().parent.parent


def children_named(process: psutil.Process, name: str, timeout: float) -> list[psutil.Process]:
    """``process``'s children named ``name``, once there is one (or none after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [child for child in process.children() if child.name() == name]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_the_host_forker_forks_its_resource_tracker_and_has_no_numpy():
    forker = subprocess.Popen(
        [sys.executable, "-m", "dask_cluster_launcher.run_host", "--forker"],
        stdin=subprocess.PIPE,  # it waits for specs here once warmed up
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=PACKAGE.parent,
    )
    try:
        process = psutil.Process(forker.pid)
        [tracker] = children_named(process, "dcl-tracker", timeout=60)
        # a fork: the forker's own command line, not ``python -c from multiprocessing...``
        assert tracker.cmdline() == process.cmdline()
        assert len(process.children()) == 1
        mapped = Path(f"/proc/{forker.pid}/maps").read_text()
        assert "numpy" not in mapped
    finally:
        assert forker.stdin is not None
        forker.stdin.close()  # the end of its input: it exits, and its tracker with it
        forker.wait(timeout=60)
        assert forker.stderr is not None
        errors = forker.stderr.read().decode(errors="replace")
    assert forker.returncode == 0, errors[-2000:]
    tracker.wait(timeout=10)


#: A host that forked its tracker registers a named semaphore (a worker queue's lock under
#: the forkserver method does) and dies without unlinking it: the tracker must unlink it.
KILLED_HOST = textwrap.dedent(
    """
    import multiprocessing, os, sys
    from dask_cluster_launcher.hosting.worker_forkserver import fork_resource_tracker
    from multiprocessing import resource_tracker

    assert fork_resource_tracker("dcl-test-rt")
    lock = multiprocessing.get_context("forkserver").Lock()
    name = lock._semlock.name
    print(name, os.path.exists("/dev/shm/sem." + name.lstrip("/")), flush=True)
    os._exit(0)  # as if killed: nothing unregisters or unlinks the semaphore
    """
)


def test_the_forked_resource_tracker_unlinks_what_a_dead_host_left():
    done = subprocess.run(
        [sys.executable, "-c", KILLED_HOST], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    name, existed = done.stdout.split()
    assert existed == "True"
    # the run ends once the tracker closed its stderr: it has cleaned up and said so
    assert not (Path("/dev/shm") / f"sem.{name.lstrip('/')}").exists()
    assert "leaked semaphore objects to clean up" in done.stderr


#: A host's forked tracker, stopped by a host that starts no worker processes: idle, it would
#: keep the original of every page the host writes (30 MB with 100 thread workers).
STOPPED = textwrap.dedent(
    """
    import os
    from multiprocessing import resource_tracker
    from dask_cluster_launcher.hosting.worker_forkserver import (
        fork_resource_tracker, stop_resource_tracker,
    )

    assert fork_resource_tracker("dcl-test-rt")
    pid = resource_tracker._resource_tracker._pid
    stop_resource_tracker()
    try:
        os.kill(pid, 0)
        print("tracker still there")
    except ProcessLookupError:
        print("tracker gone")
    """
)


def test_a_host_without_worker_processes_stops_the_forked_tracker():
    done = subprocess.run(
        [sys.executable, "-c", STOPPED], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "tracker gone"
