"""The scheduler in a batch job of its own, through a real Jupyter server, on every batch test
bed: SLURM, Grid Engine, PBS (the Torque wrappers over SLURM), LSF and HTCondor (emulated).

One cluster per batch system (2 workers), reused by every case in order: its host process runs
inside a batch job named like its workers, the notebook code computes, the dashboard answers
through the Jupyter server (piped over mutual TLS from the node's listener, which answers no
client without the cluster's certificate), a SIGKILLed server's successor takes it back from
its record, and a stop leaves no job, no listener and no relay socket. The site's
``scheduler_placements`` limit refuses the other placement.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from dask_cluster_launcher.hosting.records import Record, read_records
from dask_cluster_launcher.private import DASHBOARD_SOCKET
from tests.batch_testbeds import Testbed
from tests.helpers import wait_until
from tests.jupyter_process import JupyterServerProcess
from tests.test_hosts import cluster, crash, host_pids, running_with

OPTIONS = {
    "scheduler_placement": "own_job",
    "scheduler_memory": "1 GB",
    "walltime": "00:10:00",
    "memory": "1 GB",
    "cores": 1,
}
#: What a system's form requires besides
SYSTEM_OPTIONS: dict[str, dict[str, Any]] = {"htcondor": {"disk": "1 GB"}}


def condor_job_id(environ: dict[str, str]) -> str | None:
    """An HTCondor job's id, from the job ad its starter names in ``_CONDOR_JOB_AD``."""
    text = Path(environ["_CONDOR_JOB_AD"]).read_text() if "_CONDOR_JOB_AD" in environ else ""
    ad = dict(line.replace(" ", "").partition("=")[::2] for line in text.splitlines())
    return f"{ad['ClusterId']}.{ad['ProcId']}" if "ClusterId" in ad else None


#: How a process finds, in its environment, the id of the batch job it runs in (the PBS test
#: bed's jobs are SLURM's: its qsub prints SLURM's job id)
JOB_ID_IN_JOB = {
    "slurm": lambda environ: environ.get("SLURM_JOB_ID"),
    "sge": lambda environ: environ.get("JOB_ID"),
    "pbs": lambda environ: environ.get("SLURM_JOB_ID"),
    "lsf": lambda environ: environ.get("LSB_JOBID"),
    "htcondor": condor_job_id,
}


class InJobCluster:
    def __init__(self, root: Path, testbed: Testbed, backend: str) -> None:
        self.root = root
        self.testbed = testbed
        self.backend = backend
        # the site allows the scheduler only in its own job (a login node that forbids it)
        limits = {backend: {"scheduler_placements": ["own_job"]}}
        self.config = {
            "ClusterLauncherApp": {"private_dir": str(root / "private"), "limits": limits}
        }
        self.server = JupyterServerProcess(root, config=self.config)
        self.options = {**OPTIONS, **SYSTEM_OPTIONS.get(backend, {})}
        launched = self.server.call(
            "clusters", {"backend": backend, "options": self.options, "scaling": {"workers": 2}}
        )
        self.id: str = launched["id"]

    def restart_server(self) -> None:
        self.server = JupyterServerProcess(self.root, config=self.config)

    def notebook(self, code: str) -> str:
        """Run ``code`` as a notebook of this user's would (the server's Jupyter paths)."""
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.root / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.server.runtime_dir),
        }
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


@pytest.fixture(scope="module", params=sorted(JOB_ID_IN_JOB))
def in_job(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InJobCluster]:
    """The batch system's one cluster (pytest runs every case on one before the next)."""
    backend = request.param
    testbed: Testbed = request.getfixturevalue(f"{backend}_testbed")
    made = InJobCluster(tmp_path_factory.mktemp("placement"), testbed, backend)
    try:
        yield made
    finally:
        made.server.close()
        testbed.cancel(testbed.queue_job_ids(f"dcl-{made.id}"))


def job_row(in_job: InJobCluster, job_id: str) -> dict[str, Any]:
    model = cluster(in_job.server, in_job.id) or {"jobs": []}
    return next((job for job in model["jobs"] if job["job_id"] == job_id), {})


def compute_code(cluster_id: str) -> str:
    return (
        "from dask_cluster_launcher import connect\n"
        f"client = connect({cluster_id!r})\n"
        "print(client.submit(lambda x: x + 1, 41).result())\n"
        "print(len(client.scheduler_info()['workers']))\n"
    )


def test_the_scheduler_runs_inside_its_own_batch_job_and_computes(in_job: InJobCluster):
    started = time.monotonic()
    model = wait_until(lambda: running_with(in_job.server, in_job.id, 2), 120, "2 workers")
    print(f"2 workers after {time.monotonic() - started:.1f} s")
    # the host (and its scheduler) is a process of the scheduler's job
    [pid] = host_pids(in_job.id)
    job_id = JOB_ID_IN_JOB[in_job.backend](psutil.Process(pid).environ())
    assert job_id
    jobs = {job.job_id for job in in_job.testbed.queue_jobs(f"dcl-{in_job.id}")}
    assert job_id in jobs and len(jobs) == 3  # the scheduler's job and its 2 workers' jobs
    # the card's line: the scheduler's job, its row with the time it has left
    assert model["scheduler_job"] == job_id
    wait_until(lambda: job_row(in_job, job_id).get("time_left"), 10, "the job's time left")
    assert not model["scheduler_address"].startswith("tls://127.")
    assert in_job.notebook(compute_code(in_job.id)).split() == ["42", "2"]


def dashboard_page(in_job: InJobCluster) -> bytes:
    """The dashboard's page, through the Jupyter server (which opens its relay then)."""
    model = cluster(in_job.server, in_job.id)
    assert model and model["dashboard_url"]
    url = f"http://127.0.0.1:{in_job.server.port}/{model['dashboard_url'].lstrip('/')}"
    headers = {"Authorization": f"token {in_job.server.token}"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        assert r.status == 200
        return r.read()


def host_record(in_job: InJobCluster) -> Record:
    [record] = read_records(in_job.server.runtime_dir / "dask-cluster-launcher", [in_job.id])
    return record


def relay_sockets(in_job: InJobCluster) -> set[str]:
    """The dashboard sockets the Jupyter server process listens on."""
    sockets = psutil.Process(in_job.server.pid).net_connections(kind="unix")
    return {s.laddr for s in sockets if str(s.laddr).endswith(f"/{DASHBOARD_SOCKET}")}


def tls_answer_without_certificate(address: str) -> bytes | str:
    """What a TLS client without the cluster's certificate reads from ``address``."""
    host, port = address.rsplit(":", 1)
    anonymous = ssl.create_default_context()
    anonymous.check_hostname, anonymous.verify_mode = False, ssl.CERT_NONE
    try:
        raw = socket.create_connection((host, int(port)), timeout=10)
        with raw, anonymous.wrap_socket(raw) as tls:
            tls.sendall(b"GET /status HTTP/1.0\r\n\r\n")
            return tls.recv(1024)
    except OSError as exc:  # ssl.SSLError included
        return type(exc).__name__


def test_the_dashboard_crosses_from_the_node_over_tls_only(in_job: InJobCluster):
    wait_until(lambda: running_with(in_job.server, in_job.id, 2), 120, "2 workers")
    # the browser's dashboard, through the authenticated Jupyter server
    assert b"bokeh" in dashboard_page(in_job).lower()
    # relayed from the Jupyter server's own private socket, not the host's
    record = host_record(in_job)
    assert record.dashboard_socket and record.dashboard_address
    [relay] = relay_sockets(in_job)
    assert relay != record.dashboard_socket
    assert stat.S_IMODE(os.stat(relay).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(relay)).st_mode) == 0o700
    # the node's listener, on its routable address, answers nobody without the certificate
    assert not record.dashboard_address.startswith("127.")
    refused = tls_answer_without_certificate(record.dashboard_address)
    assert refused in (b"", "SSLError", "ConnectionResetError"), refused


def test_a_forbidden_placement_is_refused_naming_the_field(in_job: InJobCluster):
    request = {
        "backend": in_job.backend,
        "options": {**in_job.options, "scheduler_placement": "beside_jupyter"},
    }
    with pytest.raises(urllib.error.HTTPError) as refused:
        in_job.server.call("clusters", request)
    assert refused.value.code == 400
    assert json.loads(refused.value.read())["field"] == "options.scheduler_placement"


def test_a_new_server_takes_the_cluster_back_after_a_crash(in_job: InJobCluster):
    before = wait_until(lambda: running_with(in_job.server, in_job.id, 2), 120, "2 workers")
    crash(in_job.server)
    started = time.monotonic()
    in_job.restart_server()
    after = wait_until(lambda: running_with(in_job.server, in_job.id, 2), 15, "the cluster back")
    assert after["scheduler_job"] == before["scheduler_job"]
    print(f"listed again {time.monotonic() - started:.1f} s after the new server's start")
    assert in_job.notebook(compute_code(in_job.id)).split() == ["42", "2"]


def test_a_stop_leaves_no_job_the_schedulers_included(in_job: InJobCluster):
    assert in_job.testbed.queue_job_ids(f"dcl-{in_job.id}")
    dashboard_page(in_job)  # this server's relay open
    [relay], listener = relay_sockets(in_job), host_record(in_job).dashboard_address
    assert listener
    # a Grid Engine stop takes 5-10 s here (its workers' jobs end through qdel first)
    started = time.monotonic()
    in_job.server.call(f"clusters/{in_job.id}", method="DELETE", timeout=60)
    stopped = time.monotonic() - started
    assert cluster(in_job.server, in_job.id) is None
    in_job.testbed.wait_queue_empty(timeout=30, name_prefix=f"dcl-{in_job.id}")
    wait_until(lambda: not host_pids(in_job.id), 30, "the host process to exit")
    # neither the relay's socket nor the node's listener is left
    assert not os.path.exists(os.path.dirname(relay))
    host, port = listener.rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5).close()
    print(f"stopped in {stopped:.1f} s, no job left {time.monotonic() - started:.1f} s after")
