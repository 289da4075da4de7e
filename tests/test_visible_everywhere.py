"""Everything the user starts is visible: a cluster a notebook starts with ``quick_connect`` or
``make_cluster`` shows in the sidebar of the user's running Jupyter server, with its workers,
and can be scaled and stopped there; the server notices it from its record, at the cost of one
directory listing a second. ``make_cluster``'s object and the sidebar follow each other."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dask_cluster_launcher import supervision
from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.hosting.records import HostSpec, Record, pid_alive
from dask_cluster_launcher.manager import ClusterManager
from dask_cluster_launcher.profiles import ProfileStore
from tests.helpers import wait_until
from tests.jupyter_process import JupyterServerProcess

# A notebook: connects, computes, then (once told) watches its client after the cluster was
# stopped from the sidebar.
NOTEBOOK = r"""
import json, sys, time
from dask_cluster_launcher import quick_connect

client = quick_connect("local", 2, private_dir=sys.argv[1], timeout=60)
print(json.dumps({"address": client.scheduler.address}), flush=True)
print(client.submit(lambda x: x + 1, 41).result(), flush=True)
sys.stdin.readline()
outcome, deadline = "still running", time.monotonic() + 20
while time.monotonic() < deadline:
    if client.status != "running":
        outcome = "lost: " + client.status
        break
    try:
        client.submit(lambda x: x, 1, pure=False).result(timeout=2)
    except Exception as exc:
        outcome = "raised " + type(exc).__name__
        break
    time.sleep(0.1)
print(outcome, flush=True)
client.close()
"""


def running_workers(model: dict[str, Any] | None) -> int:
    return sum(1 for w in (model or {}).get("workers", []) if w["status"] == "running")


def test_a_notebook_cluster_shows_in_the_sidebar_and_is_stopped_there(tmp_path: Path):
    private = tmp_path / "private"
    records = tmp_path / "runtime" / "dask-cluster-launcher"
    config = {"ClusterLauncherApp": {"private_dir": str(private)}}
    with JupyterServerProcess(tmp_path, config=config) as server:
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
        with open(tmp_path / "notebook.log", "wb") as log:
            notebook = subprocess.Popen(
                [sys.executable, "-c", NOTEBOOK, str(private)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        try:
            assert notebook.stdout is not None and notebook.stdin is not None
            line = notebook.stdout.readline()
            returned = time.monotonic()
            assert line, (tmp_path / "notebook.log").read_text()
            address = json.loads(line)["address"]

            def in_sidebar(workers: int) -> dict[str, Any] | None:
                model = next(
                    (c for c in server.call("clusters") if c["scheduler_address"] == address),
                    None,
                )
                ready = model and model["state"] == "running"
                return model if ready and running_workers(model) == workers else None

            model = wait_until(lambda: in_sidebar(2), 5, "the cluster in the sidebar")
            seen_after = time.monotonic() - returned
            assert seen_after < 2.0, seen_after
            assert (model["name"], model["backend"], model["profile"]) == ("local",) * 3
            assert model["dashboard_url"]
            assert notebook.stdout.readline().strip() == "42"  # the notebook's client computes

            cluster_id = model["id"]
            pid = json.loads((records / f"{cluster_id}.json").read_text())["pid"]
            server.call(f"clusters/{cluster_id}", {"workers": 1}, method="PATCH")
            wait_until(lambda: in_sidebar(1), 30, "the cluster scaled to 1 worker")

            server.call(f"clusters/{cluster_id}", method="DELETE")
            assert all(c["id"] != cluster_id for c in server.call("clusters"))
            wait_until(lambda: not pid_alive(pid), 30, "the host to exit")
            assert not list(records.glob("*.json"))

            notebook.stdin.write("\n")
            notebook.stdin.flush()
            outcome = notebook.stdout.readline().strip()
            assert outcome.startswith(("lost", "raised")), outcome
            assert notebook.wait(30) == 0, (tmp_path / "notebook.log").read_text()

            time.sleep(1.5)  # a stopped cluster is never taken back; the server is fine
            assert server.process.poll() is None
            assert server.call("clusters") == []
        finally:
            if notebook.poll() is None:
                notebook.kill()
                notebook.wait(10)


def test_a_make_cluster_object_and_the_sidebar_follow_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from distributed import Client
    from distributed.core import Status

    from dask_cluster_launcher import make_cluster

    private = tmp_path / "private"
    records = tmp_path / "runtime" / "dask-cluster-launcher"
    config = {"ClusterLauncherApp": {"private_dir": str(private)}}
    with JupyterServerProcess(tmp_path, config=config) as server:
        # this process is the notebook: the server's config and runtime directories
        for name in ("config", "data", "runtime"):
            monkeypatch.setenv(f"JUPYTER_{name.upper()}_DIR", str(tmp_path / name))

        def in_sidebar(cluster_id: str) -> dict[str, Any] | None:
            return next((c for c in server.call("clusters") if c["id"] == cluster_id), None)

        def with_workers(cluster_id: str, workers: int) -> dict[str, Any] | None:
            model = in_sidebar(cluster_id)
            ready = model and model["state"] == "running"
            return model if ready and running_workers(model) == workers else None

        cluster = make_cluster("local")
        returned = time.monotonic()
        try:
            assert cluster.scheduler_address.startswith("tls://")
            assert (private / "logs" / cluster.cluster_id).is_dir()  # the server's config
            model = wait_until(lambda: with_workers(cluster.cluster_id, 0), 5, "it in the sidebar")
            seen_after = time.monotonic() - returned
            assert seen_after < 2.0, seen_after
            assert model["scheduler_address"] == cluster.scheduler_address
            assert (model["name"], model["backend"]) == ("local", "local")
            assert cluster.scaling == {"workers": 0}

            cluster.scale(2)  # here: shown there
            wait_until(lambda: with_workers(cluster.cluster_id, 2), 30, "2 workers shown")
            with Client(cluster) as client:  # over TLS, with the cluster's credentials
                assert client.submit(lambda x: x + 1, 41).result() == 42

            # there: shown here
            server.call(f"clusters/{cluster.cluster_id}", {"workers": 1}, method="PATCH")
            wait_until(lambda: cluster.scaling == {"workers": 1}, 10, "the object's scaling")
            wait_until(lambda: len(cluster.scheduler_info["workers"]) == 1, 30, "1 worker here")
            adapt = {"adapt": {"minimum": 1, "maximum": 3}}
            server.call(f"clusters/{cluster.cluster_id}", adapt, method="PATCH")
            wait_until(lambda: cluster.scaling == adapt, 10, "adaptive here")
            assert "Adaptive" in cluster._repr_html_()

            pid = json.loads((records / f"{cluster.cluster_id}.json").read_text())["pid"]
        finally:
            cluster.close()
        # closed here: gone from the sidebar, no process, no record, no credentials
        assert not pid_alive(pid)
        wait_until(lambda: in_sidebar(cluster.cluster_id) is None, 5, "it to leave the sidebar")
        assert not list(records.glob("*.json")) and not cluster.files.directory.exists()

        # stopped in the sidebar: the object closes
        other = make_cluster("local")
        try:
            wait_until(lambda: in_sidebar(other.cluster_id), 5, "the second in the sidebar")
            server.call(f"clusters/{other.cluster_id}", method="DELETE")
            wait_until(lambda: other.status == Status.closed, 30, "the object to close")
            assert other.state in ("stopping", "stopped")
        finally:
            other.close()
        assert server.call("clusters") == []


def test_a_cluster_started_from_the_command_line_shows_in_the_sidebar_and_stops(tmp_path: Path):
    config = {"ClusterLauncherApp": {"private_dir": str(tmp_path / "private")}}
    with JupyterServerProcess(tmp_path, config=config) as server:
        # the command line reads the server's settings from the same Jupyter directories
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
            "JUPYTER_DATA_DIR": str(tmp_path / "data"),
            "JUPYTER_RUNTIME_DIR": str(server.runtime_dir),
        }

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "dask_cluster_launcher.cli", *args]
            return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)

        started = cli("start", "local", "--workers", "1")
        assert started.returncode == 0, started.stderr
        returned = time.monotonic()
        _, _, cluster_id, _, address = started.stdout.splitlines()[0].split()  # "# cluster <id> at"

        def in_sidebar() -> dict[str, Any] | None:
            model = next((c for c in server.call("clusters") if c["id"] == cluster_id), None)
            return model if model and running_workers(model) == 1 else None

        model = wait_until(in_sidebar, 10, "the cluster in the sidebar")
        print(f"shown {time.monotonic() - returned:.2f} s after the command returned")
        assert model["scheduler_address"] == address and model["backend"] == "local"

        # the code it printed connects a notebook (TLS, the owner's credentials by path)
        compute = "print(client.submit(lambda x: x + 1, 41).result())"
        notebook = subprocess.run(
            [sys.executable, "-c", started.stdout + compute],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert notebook.stdout.split()[-1:] == ["42"], notebook.stderr

        assert cluster_id in cli("clusters").stdout
        stopped = cli("stop", cluster_id)
        assert stopped.returncode == 0, stopped.stderr
        wait_until(
            lambda: all(c["id"] != cluster_id for c in server.call("clusters")), 10, "card gone"
        )
        assert cluster_id not in cli("clusters").stdout
        again = cli("stop", cluster_id)
        assert again.returncode == 2 and "no running cluster" in again.stderr


def _record(
    records: Path, cluster_id: str, pid: int, backend: str = "local", machine: str | None = None
) -> Record:
    spec = HostSpec(
        cluster_id, cluster_id, backend, {}, {"workers": 1}, "/nonexistent", str(records)
    )
    record = Record(spec, pid, "tls://127.0.0.1:1")
    record.machine = machine or record.machine
    record.write()
    return record


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_the_server_reads_only_new_records_and_never_takes_back_what_it_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    interval = 0.05
    monkeypatch.setattr(supervision, "ADOPT_INTERVAL", interval)
    reads: list[list[str]] = []
    read_records = supervision.read_records

    def counting(records_dir: Path, ids: Any = None) -> list[Record]:
        reads.append(sorted(ids or []))
        return read_records(records_dir, ids)

    monkeypatch.setattr(supervision, "read_records", counting)
    records = tmp_path / "records"
    backends = default_backends()
    manager = ClusterManager(backends, ProfileStore.for_backends(backends), records_dir=records)

    async def scenario() -> None:
        manager.start_watchers()
        try:
            # alive (this process) but let go, or of a backend this server does not offer
            manager.hosts.let_go.add("letgo")
            let_go = _record(records, "letgo", os.getpid())
            _record(records, "other", os.getpid(), backend="not-offered")
            dead = _record(records, "dead", _dead_pid())  # its host died: cleaned up
            # a home shared by several machines: a pid means nothing here, leave it alone
            remote = _record(records, "remote", _dead_pid(), machine="another-node")
            for _ in range(100):
                await asyncio.sleep(interval)
                if not dead.path.exists():
                    break
            await asyncio.sleep(10 * interval)
            assert not dead.path.exists()
            assert let_go.path.exists() and remote.path.exists() and manager.list() == []
            assert all("letgo" not in ids for ids in reads)
            for skipped in ("other", "remote"):  # read once, not every second
                assert sum(skipped in ids for ids in reads) == 1
        finally:
            await manager.close_all()

    asyncio.run(scenario())
