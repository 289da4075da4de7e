"""Every way the server stops cancels every batch job, pending ones included.

JupyterHub's "Stop My Server" sends SIGINT to a server whose stdin is not a terminal, then
SIGTERM; an admin or a culler may use either, or the server's own ``/api/shutdown``. Held jobs
(``--hold`` / ``-h``) stay pending for ever on the test beds, so a job left behind is seen.
One server per way of stopping, with a SLURM and an SGE cluster in it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
import types
from dataclasses import dataclass

import pytest

from dask_cluster_launcher.shutdown import stop_on_sigint
from tests.batch_testbeds import BATCH_SYSTEMS
from tests.jupyter_process import JupyterServerProcess

WAYS = ["SIGINT", "SIGTERM", "api/shutdown"]
HELD_JOBS = 2
# submitted on hold: pending until released, never running
CLUSTERS = {
    "slurm": {
        "walltime": "00:20:00",
        "memory": "1 GB",
        "cores": 1,
        "job_extra_directives": ["--hold"],
    },
    "sge": {
        "walltime": "00:20:00",
        "memory": "1 GB",
        "cores": 1,
        "resource_spec": "h_vmem=1G",
        "job_extra_directives": ["-h"],
    },
    "pbs": {
        "walltime": "00:20:00",
        "memory": "1 GB",
        "cores": 1,
        "job_extra_directives": ["-h"],
    },
    "lsf": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1, "job_extra_directives": ["-H"]},
    "htcondor": {
        "walltime": "00:20:00",
        "memory": "1 GB",
        "cores": 1,
        "disk": "1 GB",
        "job_extra_directives": ["hold = True"],
    },
}


@dataclass
class Stopped:
    exit_seconds: float
    returncode: int
    left_behind: dict[str, list]  # system -> jobs still queued
    log: str


@pytest.fixture(scope="module", params=WAYS)
def stopped(request, slurm_testbed, sge_testbed, tmp_path_factory):
    """Launch held SLURM and SGE clusters, stop the server one way, report what is left."""
    beds = {system: request.getfixturevalue(f"{system}_testbed") for system in CLUSTERS}
    names: dict[str, str] = {}
    server = JupyterServerProcess(tmp_path_factory.mktemp("server"))
    try:
        for system, options in CLUSTERS.items():
            body = {"backend": system, "options": options, "scaling": {"workers": HELD_JOBS}}
            names[system] = "dcl-" + server.call("clusters", body)["id"]
        deadline = time.monotonic() + 30
        for system, name in names.items():
            while len(jobs := beds[system].queue_jobs(name)) < HELD_JOBS:
                cluster = server.call("clusters/" + name.removeprefix("dcl-"))
                assert time.monotonic() < deadline, f"{system} jobs not queued: {cluster}"
                time.sleep(0.2)
            assert all(job.state in ("PENDING", "hqw", "PSUSP", "H") for job in jobs), jobs

        t0 = time.monotonic()
        if request.param == "api/shutdown":
            # the server stops before it finishes answering
            with contextlib.suppress(OSError):
                server.call("api/shutdown", method="POST", prefix="")
        else:
            server.process.send_signal(getattr(signal, request.param))
        returncode = server.process.wait(30)
        exit_seconds = time.monotonic() - t0
        # Held jobs never leave on their own: whatever is queued now was left behind.
        yield Stopped(
            exit_seconds,
            returncode,
            {system: beds[system].queue_jobs(name) for system, name in names.items()},
            server.log(),
        )
    finally:
        server.close()
        for system, name in names.items():
            beds[system].cancel(beds[system].queue_job_ids(name))


@pytest.mark.parametrize("system", BATCH_SYSTEMS)
def test_stopping_the_server_cancels_pending_jobs(stopped, system):
    assert stopped.left_behind[system] == [], (
        f"{system} jobs left behind by the server, which exited {stopped.exit_seconds:.1f} s "
        f"after being told to stop (exit code {stopped.returncode}); server log:\n{stopped.log}"
    )
    # JupyterHub sends SIGKILL 10 s after SIGINT (LocalProcessSpawner.interrupt_timeout)
    assert stopped.exit_seconds < 10


class FakeServerApp:
    def _signal_stop(self, sig, frame):
        pass

    def _handle_sigint(self, sig, frame):
        pass


@pytest.mark.parametrize("tty", [False, True])
def test_sigint_takes_the_servers_own_stop_path(monkeypatch, tty):
    app = FakeServerApp()
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(isatty=lambda: tty))
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # a server that does not own the signals (pytest-jupyter's): left alone
        assert not stop_on_sigint(app)
        assert signal.getsignal(signal.SIGINT) == saved[signal.SIGINT]

        signal.signal(signal.SIGTERM, app._signal_stop)
        assert stop_on_sigint(app)
        import dask_jobqueue  # noqa: F401  (what a launch imports later)

        expected = app._handle_sigint if tty else app._signal_stop
        assert signal.getsignal(signal.SIGINT) == expected
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
