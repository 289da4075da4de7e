"""The SLURM form's "Scheduler runs: in one allocation with its workers" through the REST API
on the SLURM test bed: one job of workers + 1 tasks started by srun with dask-jobqueue's
SLURMRunner (no MPI), one cluster for the module."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.helpers import wait_cluster, wait_until
from tests.jupyter_process import JupyterServerProcess
from tests.test_hosts import crash, running_with
from tests.test_rest_batch import PREFIX, queued, running_workers, wait_no_jobs
from tests.test_rest_local import run_snippet
from tests.victim_clusters import wait_running

OPTIONS = {
    "scheduler_placement": "one_allocation",
    "walltime": "00:20:00",
    "memory": "500 MB",
    "cores": 1,
}


async def test_one_job_of_slurm_runner_tasks_computes_and_stops(launcher_api, slurm_testbed):
    request = {"backend": "slurm", "options": OPTIONS, "scaling": {"workers": 2}}
    code, preview = await launcher_api("preview", method="POST", body=request)
    assert code == 200, preview
    assert "--slurm-runner" in preview["job_script"] and "mpirun" not in preview["job_script"]
    # without the launcher: that script, submitted with workers + 1 tasks
    assert "sbatch --ntasks=3 job.sh" in preview["code"] and "scheduler_file=" in preview["code"]
    compile(preview["code"], "preview", "exec")

    code, cluster = await launcher_api("clusters", method="POST", body=request)
    assert code == 202, cluster
    cluster_id = cluster["id"]
    try:
        model = await wait_cluster(
            launcher_api,
            cluster_id,
            lambda m: m["state"] == "failed" or len(running_workers(m)) == 2,
            timeout=120,
        )
        assert model["state"] == "running", model.get("error")
        # ONE job for the scheduler and both workers; the card names it as the scheduler's
        jobs = await queued(slurm_testbed, f"{PREFIX}{cluster_id}")
        assert [job.job_id for job in jobs] == [model["scheduler_job"]]
        assert {w["job_id"] for w in model["workers"]} == {jobs[0].job_id}
        # named by the runner after their task (SLURM_PROCID): tasks 1 and 2, task 0 the scheduler
        names = {w["name"] for w in model["workers"]}
        assert names == {f"{PREFIX}{cluster_id}-1", f"{PREFIX}{cluster_id}-2"}
        assert model["scheduler_address"].startswith("tls://")
        assert model["dashboard_url"] is None  # its HTTP routes are closed inside the job

        _, snippet = await launcher_api("clusters", cluster_id, "snippet")
        out = await run_snippet(
            snippet["code"],
            "\nprint(client.submit(lambda x: x * 2, 21).result(), len(client.nthreads()))",
        )
        assert out.split() == ["42", "2"]

        code, error = await launcher_api(
            "clusters", cluster_id, method="PATCH", body={"adapt": {"minimum": 1, "maximum": 3}}
        )
        assert code == 409 and "fixed size" in error["message"], error
    finally:
        code, _ = await launcher_api("clusters", cluster_id, method="DELETE")
        await wait_no_jobs(slurm_testbed, f"{PREFIX}{cluster_id}", timeout=60)
    assert code in (200, 202, 204)


async def test_adaptive_scaling_in_one_allocation_is_refused(launcher_api, slurm_testbed):
    body = {
        "backend": "slurm",
        "options": OPTIONS,
        "scaling": {"adapt": {"minimum": 1, "maximum": 2}},
    }
    code, error = await launcher_api("clusters", method="POST", body=body)
    assert code == 400 and error["field"] == "scaling.adapt", error
    assert "fixed size" in error["message"]
    _, clusters = await launcher_api("clusters")
    assert clusters == []


async def test_at_its_walltime_the_cluster_shows_failed_with_its_jobs_reason(
    launcher_api, slurm_testbed
):
    """The one job ends at its walltime, scheduler and workers with it: the card says the
    cluster failed (within seconds, not minutes) and the scheduler's job row says why."""
    body = {
        "backend": "slurm",
        "options": {**OPTIONS, "walltime": "00:01:00"},
        "scaling": {"workers": 1},
    }
    code, cluster = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, cluster
    cluster_id = cluster["id"]
    try:
        running = await wait_cluster(
            launcher_api,
            cluster_id,
            lambda m: m["state"] == "failed" or len(running_workers(m)) == 1,
            timeout=120,
        )
        assert running["state"] == "running", running.get("error")
        # SLURM ends it at 1 minute (and a few seconds: its kill wait); then 10 s unanswered
        model = await wait_cluster(
            launcher_api, cluster_id, lambda m: m["state"] != "running", timeout=120
        )
        assert model["state"] == "failed"
        assert f"job {running['scheduler_job']} stopped answering" in model["error"]
        ended = await wait_cluster(
            launcher_api,
            cluster_id,
            lambda m: any((j.get("end") or {}).get("reason") for j in m["jobs"]),
            timeout=60,
        )
        [job] = ended["jobs"]
        assert job["job_id"] == running["scheduler_job"]
        assert job["end"]["reason"] == "reached its walltime (00:01:00)"
    finally:
        await launcher_api("clusters", cluster_id, method="DELETE")
        await wait_no_jobs(slurm_testbed, f"{PREFIX}{cluster_id}", timeout=60)


def test_a_new_server_takes_it_back_after_a_crash_and_sigterm_leaves_no_job(
    slurm_testbed, tmp_path
):
    """A SIGKILLed Jupyter server's successor lists the cluster again (the same job) and its
    client code still computes; stopping that server (SIGTERM) stops the cluster: its one job
    (the scheduler's) is gone."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**slurm_testbed.env, "HOME": str(home)}
    body = {"backend": "slurm", "options": OPTIONS, "scaling": {"workers": 1}}
    with JupyterServerProcess(tmp_path / "server", env=env) as server:
        cluster_id = server.call("clusters", body)["id"]
        before = wait_running(server, cluster_id, 1, timeout=120)
        assert len(slurm_testbed.queue_jobs(f"{PREFIX}{cluster_id}")) == 1
        crash(server)
    with JupyterServerProcess(tmp_path / "server", env=env) as server:

        def back_with_its_job():
            model = running_with(server, cluster_id, 1)
            return model if model and model["scheduler_job"] else None  # from the next poll

        after = wait_until(back_with_its_job, 30, "the cluster back, with its job")
        assert after["scheduler_job"] == before["scheduler_job"]
        snippet = server.call(f"clusters/{cluster_id}/snippet")
        code = snippet["code"] + "\nprint(client.submit(lambda x: x * 2, 21).result())"
        notebook = {
            **os.environ,
            "HOME": str(home),
            "JUPYTER_CONFIG_DIR": str(tmp_path / "server" / "config"),
            "JUPYTER_RUNTIME_DIR": str(server.runtime_dir),
        }
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=notebook
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split()[-1] == "42"
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) is not None
    slurm_testbed.wait_queue_empty(timeout=30, name_prefix=f"{PREFIX}{cluster_id}")
