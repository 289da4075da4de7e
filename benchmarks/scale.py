"""Scale: watching a big cluster costs what changes, not the cluster's size (issue #14).

synthetic (``scale_model``): a model of 1,000 workers and 400 batch jobs published through the
launcher's event publisher: bytes per change, the server's time per host patch, parsing 400 jobs,
against the whole cluster (what a full republish sends, as a polling sidebar would fetch).

real: a real Jupyter server and a launched local cluster of 128 thread workers; over the
launcher's ``dask-cluster-launcher/events`` WebSocket, bytes per worker join (128 -> 129) and
bytes/s with nothing changing; the server process's CPU over that quiet window against the same
server with no cluster; watch latency (scheduler ``add-worker`` -> event with the worker) against
the same steps on a 1-worker cluster.

    python benchmarks/scale.py [--synthetic-only]    # or: benchmarks/run.py --only scale
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from benchmarks.observe import cluster_event, connect, launcher_security, running_workers
from benchmarks.scale_model import Amount, synthetic
from benchmarks.servers import EventStream, JupyterServer
from benchmarks.stats import TABLE_HEADER, Row, Sample, seconds
from benchmarks.watch import join_time

REAL_WORKERS = 128
STEPS = 10  # scale steps per cluster (real)
QUIET_SECONDS = 25.0  # each CPU / traffic window (real)


@dataclass
class P95(Sample):
    """Latencies compared by their 95th percentile (``Row`` compares ``median``)."""

    @property
    def median(self) -> float:
        return statistics.quantiles(self.values, n=20, method="inclusive")[-1]

    def describe(self) -> str:
        if not self.values:
            return "n/a"
        middle, most = statistics.median(self.values), max(self.values)
        return f"**p95 {seconds(self.median)}** (median {seconds(middle)}, max {seconds(most)})"


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def event_bytes(stream: EventStream, cluster_id: str | None, start: int, end: int) -> int:
    """Bytes of the cluster events (of ``cluster_id``, or all) between two marks."""
    return sum(
        size
        for size, (_, data) in zip(stream.bytes[start:end], stream.messages[start:end], strict=True)
        if cluster_id is None or data["cluster_id"] == cluster_id
    )


async def quiet_window(
    server: JupyterServer, stream: EventStream, seconds: float
) -> tuple[Amount, Amount]:
    """(server CPU in percent of a core, cluster event bytes/s) over ``seconds``."""
    assert server.process is not None
    pid = server.process.pid
    since, cpu, started = stream.mark(), cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    used = cpu_seconds(pid) - cpu
    traffic = event_bytes(stream, None, since, stream.mark()) / elapsed
    return Amount([used / elapsed * 100], unit="%"), Amount([traffic], unit="B/s")


async def launch(server: JupyterServer, stream: EventStream, workers: int) -> tuple[str, Any]:
    """A running local cluster of thread workers: (its id, a client on its scheduler)."""
    since = stream.mark()
    body = {
        "backend": "local",
        "options": {"processes": False, "threads_per_worker": 1},
        "scaling": {"workers": workers},
    }
    code, model = await server.request("POST", "dask-cluster-launcher/clusters", body)
    if code != 202:
        raise RuntimeError(f"POST clusters answered {code}: {model}")
    cluster_id = model["id"]
    started = time.monotonic()
    _, event = await stream.wait_for(
        cluster_event(cluster_id, lambda m: running_workers(m) == workers), since, timeout=240
    )
    print(f"  {workers} thread workers running in {time.monotonic() - started:.1f} s", flush=True)
    address = event["cluster"]["scheduler_address"]
    return cluster_id, await connect(address, launcher_security(cluster_id))


async def settle(stream: EventStream, cluster_id: str, quiet: float = 2.0, most: float = 30.0):
    """Wait until the cluster sent no event for ``quiet`` seconds (joins settle)."""
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        since = stream.mark()
        await asyncio.sleep(quiet)
        if not event_bytes(stream, cluster_id, since, stream.mark()):
            return


async def running_after(client: Any, joined: float) -> float:
    """Seconds from the (one) worker's ``add-worker`` to the scheduler marking it running:
    Dask's own part of the watch latency (the worker's start in the host process)."""
    added = [
        msg["worker"]
        for t, msg in await client.get_events("all")
        if isinstance(msg, dict) and msg.get("action") == "add-worker" and t >= joined
    ]
    for t, msg in await client.get_events(added[0]) if added else []:
        if isinstance(msg, dict) and msg.get("status") == "running":
            return float(t - joined)
    return 0.0


async def round_trips(client: Any, count: int = 30) -> P95:
    """A trivial RPC to the scheduler, 10 a second: how promptly the host process's event loop
    (the scheduler's, the in-process workers' and the host's watch) answers anything."""
    taken = P95()
    for _ in range(count):
        started = time.perf_counter()
        await client.scheduler.identity(n_workers=0)
        taken.add(time.perf_counter() - started)
        await asyncio.sleep(0.1)
    return taken


async def scale_steps(
    server: JupyterServer, stream: EventStream, cluster_id: str, client: Any, workers: int
) -> tuple[P95, P95, Amount, Amount, Sample]:
    """``STEPS`` times: ``workers`` -> +1 -> back. (latency, the launcher's part of it: from
    the scheduler marking the worker running to the event, event bytes per join, bytes of
    the whole cluster as ``GET clusters/<id>`` returns it after the join, Dask's part of the
    latency)."""
    latency, own, joins, whole, dask = P95(), P95(), Amount(), Amount(), Sample()
    path = f"dask-cluster-launcher/clusters/{cluster_id}"
    for _ in range(STEPS):
        since = stream.mark()
        started = time.time()
        code, body = await server.request("PATCH", path, {"workers": workers + 1})
        if code != 200:
            raise RuntimeError(f"PATCH {path} answered {code}: {body}")
        seen, _ = await stream.wait_for(
            cluster_event(cluster_id, lambda m: running_workers(m) > workers), since
        )
        shown = next(i for i in range(since, stream.mark()) if stream.messages[i][0] == seen)
        joined = await join_time(client, started)
        latency.add(seen - joined)
        dask.add(await running_after(client, joined))
        own.add(max(seen - joined - dask.values[-1], 0.0))
        joins.add(event_bytes(stream, cluster_id, since, shown + 1))
        _, model = await server.request("GET", path)
        whole.add(len(json.dumps(model).encode()))
        since = stream.mark()
        await server.request("PATCH", path, {"workers": workers})
        await stream.wait_for(
            cluster_event(cluster_id, lambda m: len(m.get("workers", [])) == workers), since
        )
    return latency, own, joins, whole, dask


async def real(server: JupyterServer, stream: EventStream) -> list[Row]:
    print(f"  quiet server, no cluster: {QUIET_SECONDS:g} s", flush=True)
    idle, _ = await quiet_window(server, stream, QUIET_SECONDS)
    n = REAL_WORKERS
    cluster_id, client = await launch(server, stream, n)
    try:
        await settle(stream, cluster_id)
        print(f"  quiet server with {n} workers: {QUIET_SECONDS:g} s", flush=True)
        busy, traffic = await quiet_window(server, stream, QUIET_SECONDS)
        loop = await round_trips(client)
        latency, own, joins, whole, dask = await scale_steps(server, stream, cluster_id, client, n)
    finally:
        await client.close()
        await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
    cluster_id, client = await launch(server, stream, 1)
    try:
        small_loop = await round_trips(client)
        small, small_own, _, _, small_dask = await scale_steps(
            server, stream, cluster_id, client, 1
        )
    finally:
        await client.close()
        await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
    poll = whole.median / 5
    polled = {"theoretical": f"{poll:.0f} B/s (GET every 5 s)", "theoretical_value": poll}
    quiet = f"nothing changing, {QUIET_SECONDS:g} s"
    return [
        Row(
            f"real: event bytes per worker join ({n} -> {n + 1})",
            joins,
            whole,
            "one whole-cluster event (GET clusters/<id>)",
            "every cluster event of the step on the launcher's socket (scaling, join, status)",
        ),
        Row(
            f"real: event traffic, {n} workers, {quiet}",
            traffic,
            None,
            "a sidebar polling the whole cluster",
            **polled,
        ),
        Row(
            f"real: server CPU, {n} workers, {quiet}",
            busy,
            idle,
            "the same server with no cluster",
            "user+sys of the jupyter server process",
        ),
        Row(
            f"real: watch latency, {n} workers, {STEPS} joins",
            latency,
            small,
            f"the same on a 1-worker cluster ({STEPS} joins)",
            "scheduler add-worker -> event with the worker running; of which Dask's own "
            "add-worker -> running (the worker starting in the host process): median "
            f"{seconds(dask.median)}, max {seconds(max(dask.values))} (1 worker: "
            f"{seconds(small_dask.median)})",
        ),
        Row(
            f"real: watch latency, launcher's part, {n} workers, {STEPS} joins",
            own,
            small_own,
            f"the same on a 1-worker cluster ({STEPS} joins)",
            "the scheduler marking the worker running -> the event on the WebSocket: the "
            "host's watch, the server's patch and the event (Dask's own start excluded)",
        ),
        Row(
            f"real: scheduler RPC round trip in the host process, {n} workers",
            loop,
            small_loop,
            "the same with 1 worker",
            "identity(), 30 calls: the host's event loop, shared with the scheduler and the "
            "thread workers, answers the watch as promptly as this",
        ),
    ]


async def run(
    server: JupyterServer, stream: EventStream, synthetic_only: bool = False
) -> list[Row]:
    rows = await synthetic()
    for row in rows:
        print(f"  {row.markdown()}", flush=True)
    if not synthetic_only:
        rows += await real(server, stream)
    return rows


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic-only", action="store_true", help="no Jupyter server")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    if args.synthetic_only:
        rows = await synthetic()
    else:
        server = JupyterServer({"dask_cluster_launcher": True})
        print(f"jupyter server up in {await server.start():.1f} s", flush=True)
        stream = await server.events()
        try:
            rows = await run(server, stream)
        finally:
            stream.close()
            await server.stop()
    from benchmarks.run import machine

    print(f"\nMeasured {machine()}; total {time.monotonic() - t0:.0f} s.\n")
    print(TABLE_HEADER)
    print("\n".join(row.markdown() for row in rows))
    notes = [f"- {row.name}: {row.note}" for row in rows if row.note]
    print("\n" + "\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
