"""Each cluster runs in its own host process: it outlives a crashed Jupyter server, the next
server takes it back, and with no server it stops itself (and its jobs) after a grace period."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from dask_cluster_launcher.changes import Mirror
from dask_cluster_launcher.hosting.processes import HostProcess
from tests.batch_testbeds import Testbed
from tests.helpers import local_host_spec, wait_for, wait_until
from tests.jupyter_process import JupyterServerProcess

COMPUTE = "\nprint(client.submit(lambda x: x + 1, 41).result())"


def cluster(server: JupyterServerProcess, cluster_id: str) -> dict[str, Any] | None:
    return next((c for c in server.call("clusters") if c["id"] == cluster_id), None)


def running_with(server: JupyterServerProcess, cluster_id: str, workers: int) -> Any:
    model = cluster(server, cluster_id)
    live = [w for w in (model or {}).get("workers", []) if w["status"] == "running"]
    return model if model and model["state"] == "running" and len(live) == workers else None


def host_pids(cluster_id: str) -> list[int]:
    """Host processes of a cluster: ``ps`` shows them as ``dcl<cluster id>``."""
    return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == f"dcl{cluster_id}"]


def run_code(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def crash(server: JupyterServerProcess) -> None:
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait(10)


def test_a_cluster_outlives_a_crashed_server_and_the_next_one_takes_it_back(tmp_path: Path):
    config = {"ClusterLauncherApp": {"private_dir": str(tmp_path / "private")}}
    with JupyterServerProcess(tmp_path, config=config) as server:
        launched = server.call("clusters", {"backend": "local", "scaling": {"workers": 2}})
        cluster_id = launched["id"]
        before = wait_until(lambda: running_with(server, cluster_id, 2), 60, "2 workers")
        snippet = server.call(f"clusters/{cluster_id}/snippet")["code"]
        crash(server)

    # the notebook's client code from before still computes: the cluster did not die
    assert host_pids(cluster_id)
    assert run_code(snippet + COMPUTE).split()[-1] == "42"

    with JupyterServerProcess(tmp_path, config=config) as server:
        started = time.monotonic()
        after = wait_until(lambda: running_with(server, cluster_id, 2), 10, "the cluster back")
        taken_back_in = time.monotonic() - started
        assert taken_back_in < 2.0, taken_back_in
        assert after["name"] == before["name"]
        assert after["scheduler_address"] == before["scheduler_address"]
        assert {w["name"] for w in after["workers"]} == {w["name"] for w in before["workers"]}
        server.call(f"clusters/{cluster_id}", method="DELETE")
        assert cluster(server, cluster_id) is None
    wait_until(lambda: not host_pids(cluster_id), 30, "the host process to exit")
    assert not list((tmp_path / "runtime" / "dask-cluster-launcher").glob("*.json"))


def test_with_no_server_a_cluster_stops_itself_after_the_grace_period(
    tmp_path: Path, slurm_testbed: Testbed
):
    config = {
        "ClusterLauncherApp": {
            "private_dir": str(tmp_path / "private"),
            "orphan_grace_period": 2.0,
        }
    }
    slurm = {"walltime": "00:20:00", "memory": "1 GB", "cores": 1}
    with JupyterServerProcess(tmp_path, config=config) as server:
        local = server.call("clusters", {"backend": "local", "scaling": {"workers": 1}})
        batch = server.call("clusters", {"backend": "slurm", "options": slurm})
        ids = [local["id"], batch["id"]]
        for cluster_id in ids:
            wait_until(lambda: running_with(server, cluster_id, 1), 90, "1 worker")  # noqa: B023
        assert slurm_testbed.queue_job_ids(f"dcl-{batch['id']}")
        crash(server)
    assert all(host_pids(cluster_id) for cluster_id in ids)
    for cluster_id in ids:
        wait_until(lambda: not host_pids(cluster_id), 40, "the host to stop itself")  # noqa: B023
        assert not (tmp_path / "private" / "clusters" / cluster_id).exists()
    assert not list((tmp_path / "runtime" / "dask-cluster-launcher").glob("*.json"))
    slurm_testbed.wait_queue_empty(timeout=30, name_prefix=f"dcl-{batch['id']}")


def test_kept_on_shutdown_when_the_operator_says_so(tmp_path: Path):
    config = {
        "ClusterLauncherApp": {
            "private_dir": str(tmp_path / "private"),
            "keep_clusters_on_shutdown": True,
        }
    }
    with JupyterServerProcess(tmp_path, config=config) as server:
        launched = server.call("clusters", {"backend": "local", "scaling": {"workers": 1}})
        cluster_id = launched["id"]
        wait_until(lambda: running_with(server, cluster_id, 1), 60, "1 worker")
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)
    assert host_pids(cluster_id)
    with JupyterServerProcess(tmp_path, config=config) as server:
        wait_until(lambda: running_with(server, cluster_id, 1), 10, "the cluster back")
        server.call(f"clusters/{cluster_id}", method="DELETE")
    wait_until(lambda: not host_pids(cluster_id), 30, "the host process to exit")


async def test_a_host_sends_what_changed_since_a_version(tmp_path: Path, jp_asyncio_loop: Any):
    """The host->server hop carries patches: ``watch(since=v-1)`` answers the rows changed at
    version v only; ``since`` 0 the whole model, which the mirror then follows."""
    backend, spec = local_host_spec(tmp_path, "patchtest01", workers=3)
    files = backend.private_dir.cluster(spec.cluster_id)
    host = await HostProcess.spawn(spec, files, tmp_path / "logs" / "x" / "host.log")
    try:

        async def running(n: int) -> bool:
            await host.changes(timeout=1.0)
            workers = host.mirror.workers.values()
            running = len(workers) == n and all(w["status"] == "running" for w in workers)
            return host.mirror.fields["state"] == "running" and running

        await wait_for(lambda: running(3), timeout=60, interval=0)
        control = host._control()
        whole = await control.watch(since=0, timeout=0)
        assert whole["full"] and len(whole["workers"]["upsert"]) == 3
        assert whole["fields"]["state"] == "running"
        names = set(host.mirror.workers)

        await host.rescale({"workers": 4})
        await wait_for(lambda: running(4), timeout=60, interval=0)
        (joined,) = set(host.mirror.workers) - names
        version = host.mirror.version
        last = await control.watch(since=version - 1, timeout=0)
        assert not last.get("full") and last["version"] == version
        assert [w["name"] for w in last.get("workers", {}).get("upsert", [])] == [joined]
        assert "remove" not in last.get("workers", {})
        assert set(last.get("fields", {})) <= {"scaling"}  # never the other 3 workers' rows
        assert (await control.watch(since=version, timeout=0)) == {"version": version}

        await host.rescale({"workers": 3})
        await wait_for(lambda: running(3), timeout=60, interval=0)
        version = host.mirror.version
        last = await control.watch(since=version - 1, timeout=0)
        (left,) = (names | {joined}) - set(host.mirror.workers)
        # (Dask's RPC sends lists as tuples)
        assert list(last["workers"]["remove"]) == [left] and set(last) == {"version", "workers"}
        # the mirror, after all these patches, is the host's whole model
        fresh = Mirror()
        fresh.apply(await control.watch(since=0, timeout=0))
        assert fresh.whole() == host.mirror.whole()
    finally:
        await host.stop()


#: Evaluated in a worker process: the module multiprocessing imported as its ``__main__``, and
#: whether the launcher's backends were imported with it. An expression, not a function of this
#: module: the worker would import this module (and the launcher with it) to run that.
MAIN_MODULE_OF_A_WORKER = (
    "(__import__('sys').modules['__mp_main__'].__spec__.name,"
    " 'dask_cluster_launcher.backends' in __import__('sys').modules)"
)


def test_local_workers_start_without_importing_the_launcher(tmp_path: Path):
    """A local cluster's worker processes import the host's main module again when they start
    (multiprocessing's spawn): that module is a light one, so a worker starts as fast as one
    of a plain LocalCluster."""
    from distributed import Client

    from dask_cluster_launcher import make_cluster

    cluster = make_cluster("local", private_dir=tmp_path / "private")
    try:
        cluster.scale(1)
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=60)
            [(main, backends)] = client.run(eval, MAIN_MODULE_OF_A_WORKER).values()
    finally:
        cluster.close()
    assert main == "dask_cluster_launcher.run_host"
    assert not backends


async def test_a_forked_host_that_dies_before_it_listens_fails_at_once(
    tmp_path: Path, jp_asyncio_loop: Any
):
    """A host forked from the forker that exits before it listens (here: its backend class
    cannot be loaded) fails the launch at once, naming its log, not after the start timeout;
    the forker forks the next host as before."""
    from dask_cluster_launcher.hosting.host_forker import HostForker
    from dask_cluster_launcher.hosting.processes import HostGone

    forker = HostForker(tmp_path / "private")
    forker.ensure_running()
    await wait_for(lambda: _true(forker.running), timeout=30)
    try:
        backend, spec = local_host_spec(tmp_path, "forkfail001")
        spec.backend_class = "no_such_module_here:Backend"
        files = backend.private_dir.cluster(spec.cluster_id)
        log = Path(backend.private_dir.log_directory(spec.cluster_id), "host.log")
        started = time.monotonic()
        try:
            await HostProcess.spawn(spec, files, log, forker)
            raise AssertionError("the broken host started")
        except HostGone as exc:
            assert str(log) in str(exc)
        assert time.monotonic() - started < 10
        assert "no_such_module_here" in log.read_text()  # why, in the cluster's own log

        _, good = local_host_spec(tmp_path, "forkgood001")
        files = backend.private_dir.cluster(good.cluster_id)
        host = await HostProcess.spawn(good, files, tmp_path / "logs" / "g" / "host.log", forker)
        assert psutil.Process(host.pid).ppid() == forker._process.pid
        await host.stop()
        assert not host.alive()
    finally:
        await forker.close()


async def _true(value: bool) -> bool:
    return value


async def test_the_forkers_output_survives_lines_that_are_not_its_own(jp_asyncio_loop: Any):
    """Something printed on the forker's output by a library (a number, text) is passed over;
    the launches still get their messages, and the forker's end reaches every waiting one."""
    from dask_cluster_launcher.hosting.host_forker import HostForker

    class Output:
        stdout = asyncio.StreamReader()

    forker = HostForker(Path("/nonexistent"))
    waiting: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    forker._launches["/spec.json"] = waiting
    Output.stdout.feed_data(b'1\nWarning: text\n["spec"]\n{"spec": "/spec.json", "pid": 7}\n')
    Output.stdout.feed_eof()
    await forker._read(Output())  # type: ignore[arg-type]
    assert [waiting.get_nowait(), waiting.get_nowait()] == [
        {"spec": "/spec.json", "pid": 7},
        {"exited": None},
    ]
