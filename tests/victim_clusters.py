"""Clusters of the attack tests' victim: launch them through its real Jupyter server, wait for
their workers, read their dashboard relay, and leave nothing behind."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from tests.jupyter_process import JupyterServerProcess

BATCH = {"walltime": "00:20:00", "memory": "1 GB", "cores": 1}


def launch(server: JupyterServerProcess, body: dict[str, Any], workers: int) -> str:
    return str(server.call("clusters", {**body, "scaling": {"workers": workers}})["id"])


def wait_running(
    server: JupyterServerProcess, cluster_id: str, workers: int, timeout: float = 180
) -> dict[str, Any]:
    """The cluster's model once it runs with ``workers`` running workers (fails the test with
    the reason and the server's log when it fails instead)."""
    deadline = time.monotonic() + timeout
    while True:
        model = server.call(f"clusters/{cluster_id}")
        assert model["state"] != "failed", f"{model['error']}\n{server.log()}"
        running = [w for w in model["workers"] if w["status"] == "running"]
        if model["state"] == "running" and len(running) >= workers:
            return dict(model)
        assert time.monotonic() < deadline, f"not running with {workers} workers: {model}"
        time.sleep(0.3)


def relay(server: JupyterServerProcess, cluster_id: str, path: str) -> tuple[int, str]:
    """(status, body) of the dashboard relay route for ``path``, as the user's browser gets it."""
    url = f"http://127.0.0.1:{server.port}/dask-cluster-launcher/dashboard/{cluster_id}/{path}"
    request = urllib.request.Request(url, headers={"Authorization": f"token {server.token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def stop_everything(server: JupyterServerProcess, ids: list[str], testbed: Any = None) -> None:
    """Stop the clusters (their hosts cancel their jobs), then the server; cancel what a
    failure left in the queue."""
    for cluster_id in ids:
        with contextlib.suppress(OSError):
            server.call(f"clusters/{cluster_id}", method="DELETE")
    deadline = time.monotonic() + 60
    # (a server already stopped answers nothing: no use waiting for its list)
    while ids and server.process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if not server.call("clusters"):
                break
        time.sleep(0.5)
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)  # stops what is left, cancelling jobs
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(30)
    server.close()
    if testbed is not None:
        for cluster_id in ids:
            testbed.cancel(testbed.queue_job_ids(f"dcl-{cluster_id}"))
