"""The mpi backend (one SLURM job running dask-mpi) through the REST API, on the SLURM test bed."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from tests.helpers import wait_cluster, wait_for
from tests.test_rest_batch import PREFIX, queued, running_workers, wait_no_jobs
from tests.test_rest_local import run_snippet

pytestmark = pytest.mark.skipif(
    not (shutil.which("mpirun") and importlib.util.find_spec("dask_mpi")),
    reason="needs Open MPI (testbeds/install.sh) and dask-mpi, mpi4py (the test extra)",
)

OPTIONS = {"walltime": "00:20:00", "memory": "500 MB", "cores": 1}


async def test_one_job_runs_scheduler_and_workers_over_tls(launcher_api, slurm_testbed):
    request = {"backend": "mpi", "options": OPTIONS, "scaling": {"workers": 2}}
    code, preview = await launcher_api("preview", method="POST", body=request)
    assert code == 200, preview
    script = preview["job_script"]
    assert "dcl_mpi_run.py" in script and "--protocol tls" in script  # dask-mpi, no HTTP
    assert "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True" in script
    assert "--no-dashboard" in script

    code, cluster = await launcher_api("clusters", method="POST", body=request)
    assert code == 202, cluster
    cluster_id = cluster["id"]
    model = await wait_cluster(
        launcher_api,
        cluster_id,
        lambda m: m["state"] == "failed" or len(running_workers(m)) == 2,
        timeout=120,
    )
    assert model["state"] == "running", model.get("error")
    # ONE job for the scheduler and both workers
    jobs = await queued(slurm_testbed, f"{PREFIX}{cluster_id}")
    assert len(jobs) == 1
    assert model["scheduler_address"].startswith("tls://")
    assert {w["job_id"] for w in model["workers"]} == {jobs[0].job_id}
    assert model["dashboard_url"] is None  # on the compute node's loopback: no link at all

    # the job's output is one click away
    async def worker_log():
        _, log = await launcher_api("clusters", cluster_id, "jobs", jobs[0].job_id, "log")
        return any(f["text"] and "Start worker" in f["text"] for f in log["files"])

    await wait_for(worker_log, timeout=30)

    _, snippet = await launcher_api("clusters", cluster_id, "snippet")
    out = await run_snippet(
        snippet["code"],
        "\nprint(client.submit(lambda x: x * 2, 21).result(), len(client.nthreads()))",
    )
    assert out.split() == ["42", "2"]

    # fixed size: adaptive and another size are refused, naming why
    code, error = await launcher_api(
        "clusters", cluster_id, method="PATCH", body={"adapt": {"minimum": 1, "maximum": 3}}
    )
    assert code == 409 and "fixed size" in error["message"], error
    code, error = await launcher_api("clusters", cluster_id, method="PATCH", body={"workers": 3})
    assert code == 409 and "fixed size" in error["message"], error

    code, _ = await launcher_api("clusters", cluster_id, method="DELETE")
    assert code in (200, 202, 204)
    await wait_no_jobs(slurm_testbed, f"{PREFIX}{cluster_id}", timeout=60)


async def test_walltime_over_the_partition_limit_is_refused(launcher_api, slurm_testbed):
    options = {**OPTIONS, "queue": "short", "walltime": "01:00:00"}
    body = {"backend": "mpi", "options": options, "scaling": {"workers": 2}}
    code, error = await launcher_api("clusters", method="POST", body=body)
    assert code == 400
    assert error["field"] == "options.walltime" and "short" in error["message"], error


async def test_launch_adaptive_is_refused_with_the_reason(launcher_api, slurm_testbed):
    body = {
        "backend": "mpi",
        "options": OPTIONS,
        "scaling": {"adapt": {"minimum": 1, "maximum": 2}},
    }
    code, error = await launcher_api("clusters", method="POST", body=body)
    assert code == 400 and error["field"] == "scaling.adapt", error
    assert "fixed size" in error["message"]
    _, clusters = await launcher_api("clusters")
    assert clusters == []


async def test_the_forms_defaults_are_valid_options(launcher_api, slurm_testbed):
    # the sidebar sends the backend's defaults back with a launch: all must be this form's
    _, backends = await launcher_api("backends")
    mpi = next(b for b in backends if b["name"] == "mpi")
    assert set(mpi["defaults"]) <= set(mpi["schema"]["properties"])
    code, preview = await launcher_api(
        "preview", method="POST", body={"backend": "mpi", "options": {**mpi["defaults"], **OPTIONS}}
    )
    assert code == 200, preview


async def test_the_host_sees_clients_and_tasks_of_the_jobs_scheduler(tmp_path):
    """The grace period and the idle timeout count the clients of a scheduler that runs inside
    the job (asked over its TLS RPC), not only of one in the host's own process."""
    from distributed import Client, Scheduler

    from dask_cluster_launcher.backends.base import Activity
    from dask_cluster_launcher.backends.batch.allocation import OneAllocationJob
    from dask_cluster_launcher.private import PrivateDir

    files = PrivateDir.at(tmp_path).ensure().cluster("activity").create()
    kwargs = {"job_name": "dcl-activity", "security": files.security_kwargs()}
    security = files.security()
    async with Scheduler(
        protocol="tls", host="127.0.0.1", dashboard_address=":0", security=security
    ) as scheduler:
        job = OneAllocationJob(None, kwargs, None)  # type: ignore[arg-type]
        job.scheduler_address = scheduler.address
        await job.refresh(raise_errors=True)
        assert await job.activity() == Activity(clients=0, tasks=0)
        async with Client(scheduler.address, security=security, asynchronous=True) as client:
            future = client.submit(lambda: 1)  # no worker: the task waits on the scheduler
            await wait_for(lambda: _activity_is(job, Activity(clients=1, tasks=1)), timeout=10)
            del future
        await wait_for(lambda: _activity_is(job, Activity(clients=0, tasks=0)), timeout=10)
        await job.close()


async def _activity_is(job, expected) -> bool:
    return await job.activity() == expected
