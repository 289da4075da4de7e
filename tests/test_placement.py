"""The scheduler in a batch job of its own, through a real Jupyter server, on the SLURM and
Grid Engine test beds.

One cluster per batch system (2 workers), reused by every case in order: its host process runs
inside a batch job named like its workers, the notebook code computes, the dashboard answers
through the Jupyter server, a SIGKILLed server's successor takes it back from its record, and
a stop leaves no job. The site's ``scheduler_placements`` limit refuses the other placement.
"""

from __future__ import annotations

import json
import os
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


class InJobCluster:
    def __init__(self, root: Path, testbed: Testbed, backend: str, job_id_variable: str) -> None:
        self.root = root
        self.testbed = testbed
        self.backend = backend
        #: The variable that carries the job id inside a job
        self.job_id_variable = job_id_variable
        # the site allows the scheduler only in its own job (a login node that forbids it)
        limits = {backend: {"scheduler_placements": ["own_job"]}}
        self.config = {
            "ClusterLauncherApp": {"private_dir": str(root / "private"), "limits": limits}
        }
        self.server = JupyterServerProcess(root, config=self.config)
        launched = self.server.call(
            "clusters", {"backend": backend, "options": OPTIONS, "scaling": {"workers": 2}}
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


@pytest.fixture(scope="module", params=[("slurm", "SLURM_JOB_ID"), ("sge", "JOB_ID")], ids=str)
def in_job(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InJobCluster]:
    """The batch system's one cluster (pytest runs every case on one before the next)."""
    backend, job_id_variable = request.param
    testbed: Testbed = request.getfixturevalue(f"{backend}_testbed")
    made = InJobCluster(tmp_path_factory.mktemp("placement"), testbed, backend, job_id_variable)
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
    job_id = psutil.Process(pid).environ().get(in_job.job_id_variable)
    assert job_id
    jobs = {job.job_id for job in in_job.testbed.queue_jobs(f"dcl-{in_job.id}")}
    assert job_id in jobs and len(jobs) == 3  # the scheduler's job and its 2 workers' jobs
    # the card's line: the scheduler's job, its row with the time it has left
    assert model["scheduler_job"] == job_id
    wait_until(lambda: job_row(in_job, job_id).get("time_left"), 10, "the job's time left")
    assert not model["scheduler_address"].startswith("tls://127.")
    assert in_job.notebook(compute_code(in_job.id)).split() == ["42", "2"]
    # the dashboard, relayed by the Jupyter server from the host's private socket
    url = f"http://127.0.0.1:{in_job.server.port}/{model['dashboard_url'].lstrip('/')}"
    headers = {"Authorization": f"token {in_job.server.token}"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        assert r.status == 200 and b"bokeh" in r.read().lower()


def test_a_forbidden_placement_is_refused_naming_the_field(in_job: InJobCluster):
    request = {
        "backend": in_job.backend,
        "options": {**OPTIONS, "scheduler_placement": "beside_jupyter"},
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
    # a Grid Engine stop takes 5-10 s here (its workers' jobs end through qdel first)
    in_job.server.call(f"clusters/{in_job.id}", method="DELETE", timeout=60)
    assert cluster(in_job.server, in_job.id) is None
    in_job.testbed.wait_queue_empty(timeout=30, name_prefix=f"dcl-{in_job.id}")
    wait_until(lambda: not host_pids(in_job.id), 30, "the host process to exit")
