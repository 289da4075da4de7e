"""Jupyter server responsiveness while a launched cluster computes.

A notebook-like client process runs 20,000 small tasks (2 x ``client.map(inc, range(10000))``
+ ``gather``) on a local cluster with 2 workers, connected with the code from the launcher's
``GET clusters/<id>/snippet`` (TLS with the cluster's private credential files), while a poller
in this process sends ``GET /api/status`` to the Jupyter server every 10 ms. Baseline, in the
same run and against the same server (with no cluster of its own): the same client workload on
an independent ``LocalCluster`` started in a process of its own. Compared: p50, p99 and max of
the ``api/status`` latency while the tasks run.

Runs on its own server (only dask_cluster_launcher enabled, a private config whose
``ClusterLauncherApp.private_dir`` is a temporary directory):

    python benchmarks/responsiveness.py [--repetitions N] [--baseline-first]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.observe import running_workers
from benchmarks.servers import JupyterServer, bench_env
from benchmarks.stats import TABLE_HEADER, Row, Sample, seconds

LAUNCH_BODY = {
    "backend": "local",
    "options": {"threads_per_worker": 1, "processes": True},
    "scaling": {"workers": 2},
}
POLL_INTERVAL = 0.01  # s between api/status requests (sent at most this often)
# s for one client run: the 20,000 tasks took 40-100 s on a busy 2-core machine
WORKLOAD_TIMEOUT = 240.0
MAX_POLLS = int(WORKLOAD_TIMEOUT / POLL_INTERVAL)  # bounds the poller of one client run

# The notebook: connect with the given code (read from stdin; it defines ``client``), wait for
# the 2 workers, then 2 x 10,000 tasks. pure=False: the second map gets new keys (with pure
# keys it would find the first map's results, still held, and run nothing). Prints the wall
# clock (time.time()) of the start and end of the tasks and their duration.
WORKLOAD = """
import sys, time
namespace = {}
exec(sys.stdin.read(), namespace)
client = namespace["client"]
client.wait_for_workers(2, timeout=60)

def inc(x):
    return x + 1

client.gather(client.map(inc, range(100), pure=False))  # warm-up: function shipped, imports
start, t0 = time.time(), time.perf_counter()
for _ in range(2):
    futures = client.map(inc, range(10000), pure=False)
    assert sum(client.gather(futures)) == 50005000
    del futures
duration = time.perf_counter() - t0
print(start, time.time(), duration, flush=True)
client.close()
"""

# An independent cluster, unrelated to the Jupyter server: the launcher's local cluster
# (backends/local.py) without the launcher, secured the same way (mutual TLS with a
# certificate of its own, so both sides do the same work). Prints its address and the
# client's credentials (inline PEM), runs until stdin closes.
INDEPENDENT_CLUSTER = """
import json, sys
from distributed import LocalCluster
from distributed.security import Security
security = Security.temporary()
cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=True, memory_limit="auto",
    host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
    protocol="tls://", security=security,
)
client = {k: getattr(security, k) for k in ("tls_ca_file", "tls_client_cert", "tls_client_key")}
print(json.dumps({"address": cluster.scheduler_address, "security": client}), flush=True)
sys.stdin.read()
cluster.close()
"""


class StatusPoller(threading.Thread):
    """``GET /api/status`` every POLL_INTERVAL on one keep-alive connection, as a browser
    would; records (send time ``time.time()``, latency in s). A thread with a blocking
    client, so this process's event loop cannot delay the requests."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.headers = {"Authorization": f"token {token}"}
        self.samples: list[tuple[float, float]] = []
        self.errors = 0
        self._halt = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        next_at = time.monotonic()
        try:
            while not self._halt.is_set() and len(self.samples) < MAX_POLLS:
                sent, t0 = time.time(), time.perf_counter()
                try:
                    conn.request("GET", "/api/status", headers=self.headers)
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()  # reconnects on the next request
                latency = time.perf_counter() - t0
                if ok:
                    self.samples.append((sent, latency))
                else:
                    self.errors += 1
                next_at = max(next_at + POLL_INTERVAL, time.monotonic())
                self._halt.wait(next_at - time.monotonic())
        finally:
            conn.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(30)

    def between(self, start: float, end: float) -> list[float]:
        return [latency for sent, latency in self.samples if start <= sent <= end]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


async def measure(server: JupyterServer, client_code: str) -> dict[str, Any]:
    """Run the workload in a client process while polling api/status; its latencies."""
    load = os.getloadavg()[0]
    poller = StatusPoller(server.port, server.token)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKLOAD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=bench_env(),
    )
    poller.start()
    try:
        out, err = await asyncio.wait_for(
            process.communicate(client_code.encode()), WORKLOAD_TIMEOUT
        )
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"the client workload took over {WORKLOAD_TIMEOUT:g} s") from None
    finally:
        poller.stop()
    if process.returncode != 0:
        raise RuntimeError(
            f"client workload failed ({process.returncode}):\n{err.decode()[-3000:]}"
        )
    start, end, duration = (float(x) for x in out.decode().split()[-3:])
    latencies = poller.between(start, end)
    if len(latencies) < 50:
        raise RuntimeError(f"only {len(latencies)} api/status answers while the tasks ran")
    return {
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "slow": sum(1 for x in latencies if x > 0.05),
        "n": len(latencies),
        "errors": poller.errors,
        "tasks": duration,
        "load": load,
    }


async def launcher_once(server: JupyterServer, private_dir: Path) -> dict[str, Any]:
    """Launch through the REST API, run the workload with the snippet's code, DELETE."""
    code, model = await server.request("POST", "dask-cluster-launcher/clusters", LAUNCH_BODY)
    if code != 202:
        raise RuntimeError(f"POST clusters answered {code}: {model}")
    cluster_id = model["id"]
    try:
        deadline = time.monotonic() + 120
        while True:
            code, model = await server.request(
                "GET", f"dask-cluster-launcher/clusters/{cluster_id}"
            )
            if code != 200 or model.get("state") == "failed":
                raise RuntimeError(f"GET clusters/{cluster_id} answered {code}: {model}")
            if model.get("state") == "running" and running_workers(model) >= 2:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster {cluster_id} not running with 2 workers in 120 s")
            await asyncio.sleep(0.2)
        code, body = await server.request(
            "GET", f"dask-cluster-launcher/clusters/{cluster_id}/snippet"
        )
        if code != 200:
            raise RuntimeError(f"GET clusters/{cluster_id}/snippet answered {code}: {body}")
        snippet = body["code"]
        # the client must really use the private TLS credentials of the configured directory
        if "tls://" not in snippet or str(private_dir) not in snippet:
            raise RuntimeError(f"unexpected client code (not TLS from {private_dir}):\n{snippet}")
        return await measure(server, snippet)
    finally:
        code, body = await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
        if code != 204:
            raise RuntimeError(f"DELETE clusters/{cluster_id} answered {code}: {body}")


async def independent_once(server: JupyterServer) -> dict[str, Any]:
    """The same workload on a LocalCluster in its own process; the server has no cluster."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        INDEPENDENT_CLUSTER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=bench_env(),
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        try:
            started = json.loads(line)
        except ValueError:
            raise RuntimeError(f"independent LocalCluster did not start: {line!r}") from None
        code = (
            "from dask.distributed import Client\n"
            "from distributed.security import Security\n"
            f"security = Security(require_encryption=True, **{started['security']!r})\n"
            f"client = Client({started['address']!r}, security=security)\n"
        )
        return await measure(server, code)
    finally:
        process.stdin.close()  # the cluster closes itself
        try:
            await asyncio.wait_for(process.wait(), 30)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


async def idle_latency(server: JupyterServer, duration: float = 2.0) -> float:
    """p99 of api/status with nothing running (context for the figures)."""
    poller = StatusPoller(server.port, server.token)
    start = time.time()
    poller.start()
    await asyncio.sleep(duration)
    poller.stop()
    return percentile(poller.between(start, time.time()), 99)


def describe(result: dict[str, Any]) -> str:
    figures = "/".join(seconds(result[key]) for key in ("p50", "p99", "max"))
    return (
        f"{figures} ({result['n']} requests, {result['slow']} over 50 ms, "
        f"tasks {result['tasks']:.1f} s, load average {result['load']:.1f} at the start)"
    )


async def run(repetitions: int, baseline_first: bool = False) -> tuple[list[Row], list[str]]:
    """Alternating runs of both sides (launcher first unless ``baseline_first``)."""
    server = JupyterServer({"dask_cluster_launcher": True})
    private_dir = server.workdir / "private"
    config_dir = server.workdir / "config"
    config_dir.mkdir()
    # jupyter_config.json: read by every Jupyter app next to the --config file servers.py gives
    (config_dir / "jupyter_config.json").write_text(
        json.dumps({"ClusterLauncherApp": {"private_dir": str(private_dir)}})
    )
    server.extra_env = {
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(server.workdir / "data"),
    }
    print(f"  jupyter server (launcher only) up in {await server.start():.1f} s", flush=True)
    ours: list[dict[str, Any]] = []
    baseline: list[dict[str, Any]] = []
    try:
        idle = await idle_latency(server)
        for i in range(repetitions):
            order = ["launcher", "independent"]
            if (i % 2 == 1) != baseline_first:
                order.reverse()
            for who in order:
                if who == "launcher":
                    ours.append(await launcher_once(server, private_dir))
                else:
                    baseline.append(await independent_once(server))
            print(
                f"  responsiveness rep {i + 1}: api/status p50/p99/max, launcher: "
                f"{describe(ours[-1])}; independent: {describe(baseline[-1])}",
                flush=True,
            )
        # every launched cluster was deleted: none may remain
        code, clusters = await server.request("GET", "dask-cluster-launcher/clusters")
        if code != 200 or clusters:
            raise RuntimeError(f"clusters left after the benchmark: {code} {clusters}")
    finally:
        await server.stop()
    errors = sum(r["errors"] for r in ours + baseline)
    independent = "independent `LocalCluster` in its own process (TLS too)"
    note = (
        "2 x `client.map(inc, range(10000))` + gather from a client process; "
        f"`GET /api/status` every {POLL_INTERVAL * 1000:g} ms while the tasks ran "
        f"({Sample([r['n'] for r in ours]).median:.0f} / "
        f"{Sample([r['n'] for r in baseline]).median:.0f} requests per run, median; "
        f"{errors} failed); idle server p99 {seconds(idle)}"
    )
    rows = [
        Row(
            f"`api/status` {key} while a cluster runs 20,000 tasks",
            Sample([r[key] for r in ours]),
            Sample([r[key] for r in baseline]),
            independent,
            note if key == "p99" else "",
        )
        for key in ("p50", "p99", "max")
    ]
    rows.append(
        Row(
            "20,000 tasks (client wall time)",
            Sample([r["tasks"] for r in ours]),
            Sample([r["tasks"] for r in baseline]),
            independent,
            "both clusters: mutual TLS, a certificate of their own",
        )
    )
    return rows, []


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=1, help="pairs of runs (~100 s each)")
    parser.add_argument("--baseline-first", action="store_true", help="independent cluster first")
    args = parser.parse_args()
    t0 = time.monotonic()
    rows, _ = await run(args.repetitions, args.baseline_first)
    print(f"\ntotal {time.monotonic() - t0:.0f} s\n\n{TABLE_HEADER}")
    print("\n".join(row.markdown() for row in rows))
    print("\n".join(f"- {row.name}: {row.note}" for row in rows if row.note))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
