"""Where the time from the last SLURM worker's join to the sidebar event goes: the launch of
``benchmarks/batch.py`` (launcher side only), with the probe of ``sitecustomize.py`` in the
Jupyter server and its hosts, and per run the steps of the last worker:

    flock /tmp/slurm-queue.lock .venv/bin/python -m benchmarks.watch_probe.join \\
        --workers 64 --repetitions 2      # ~1 minute per run on 2 cores

More than 14 workers restart the SLURM test bed with room for them (as ``batch_scale.py``),
then with its defaults again. The probe's log is kept (its path is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from testbeds.control import testbed_lock

from .. import batch, batch_scale, job_timeline, launch
from ..observe import cluster_event, connect, launcher_security, running_workers
from ..servers import EventStream, JupyterServer

HERE = Path(__file__).resolve().parent


async def once(server: JupyterServer, stream: EventStream, bed: batch.Testbed, n: int) -> dict:
    options: dict[str, Any] = dict(batch.OPTIONS["slurm"], death_timeout=300)
    options["job_script_prologue"] = [job_timeline.JOB_START_LINE]
    body = {"backend": "slurm", "options": options, "scaling": {"workers": n}}
    await bed.wait_no_other_launcher_jobs()
    since = stream.mark()
    start = time.time()
    code, model = await server.request("POST", "dask-cluster-launcher/clusters", body)
    if code != 202:
        raise RuntimeError(f"POST clusters answered {code}: {model}")
    cluster_id = model["id"]
    try:
        shown, event = await stream.wait_for(
            cluster_event(cluster_id, lambda m: running_workers(m) >= n), since, timeout=400
        )
        security = launcher_security(cluster_id)
        client = await connect(event["cluster"]["scheduler_address"], security)
        try:
            events = await client.get_events()
        finally:
            await client.close()
    finally:
        await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
        await bed.wait_gone(f"dcl-{cluster_id}")
    joined, marked = [], []
    for items in events.values():
        for t, msg in items:
            if isinstance(msg, dict) and t >= start:
                if msg.get("action") == "add-worker":
                    joined.append(t)
                elif msg.get("action") == "worker-status-change" and "running" in str(
                    msg.get("status")
                ):
                    marked.append(t)
    return {"start": start, "shown": shown, "joined": max(joined), "marked": max(marked)}


def steps(run: dict[str, Any], probe: list[dict[str, Any]], n: int) -> str:
    """One line: from the last join, when each step had the last worker."""
    lines = [p for p in probe if run["start"] <= p["t"] <= run["shown"] + 1]
    joined = run["joined"]

    def first(kind: str, **match: Any) -> float | None:
        """Seconds from the last join to the first such probe line after it."""
        for p in lines:
            matches = all(p.get(key) == value for key, value in match.items())
            at = p.get("started", p["t"])
            if p["kind"] == kind and at >= joined and matches:
                return float(at - joined)
        return None

    host = [p for p in lines if p["kind"] == "lag" and p.get("role") == "host"]
    around = [p for p in host if joined - 0.6 <= p["t"] <= run["shown"] + 0.6]
    cpu = ""
    if len(around) >= 2:
        ran, waited = around[-1]["run"] - around[0]["run"], around[-1]["wait"] - around[0]["wait"]
        wall = around[-1]["t"] - around[0]["t"]
        cpu = f"; host main thread over {wall:.1f} s: ran {ran:.2f} s, waited {waited:.2f} s"
    updates = [p["dur"] for p in lines if p["kind"] == "host_update"]
    lag = max((p["worst"] for p in host), default=0.0)

    def at(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    return (
        f"total {run['shown'] - run['start']:.2f} s; from the last join: marked running "
        f"{run['marked'] - joined:.2f}, host update {at(first('host_update', running=n))}, "
        f"server publish {at(first('server_publish', running=n))}, shown "
        f"{run['shown'] - joined:.2f} s; host updates took up to {max(updates, default=0):.3f} s, "
        f"its event loop was late by up to {lag:.2f} s{cpu}"
    )


async def main(workers: int, repetitions: int, probe_log: Path) -> None:
    bed = batch.Testbed("slurm")
    env = {"PYTHONPATH": str(HERE), "DCL_PROBE_LOG": str(probe_log)}
    server = JupyterServer({"dask_cluster_launcher": True}, env)
    await server.start()
    stream = await server.events()
    try:
        await launch.launcher_once(server, stream)  # the server's one-off imports
        for i in range(repetitions):
            await asyncio.sleep(3)
            run = await once(server, stream, bed, workers)
            probe = [json.loads(line) for line in probe_log.read_text().splitlines()]
            print(f"  run {i + 1}: {steps(run, probe, workers)}", flush=True)
    finally:
        stream.close()
        await server.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--repetitions", type=int, default=2)
    args = parser.parse_args()
    probe_log = Path(tempfile.mkdtemp(prefix="dcl-watch-probe-")) / "probe.jsonl"
    print(f"probe log: {probe_log}", flush=True)
    bed = batch.Testbed("slurm")
    bed.ensure_running()
    run = main(args.workers, args.repetitions, probe_log)
    if args.workers <= 14:  # the test bed's defaults hold them
        asyncio.run(run)
        return
    cpus = args.workers + 2
    with testbed_lock("slurm"):
        batch_scale.wait_for_empty_queue(bed)
        batch_scale.restart_slurm(
            {"SLURM_FAKE_CPUS": str(cpus), "SLURM_REAL_MEM_MB": str(cpus * 1000)}
        )
        try:
            os.environ["DCL_KEEP_TESTBEDS"] = "1"
            asyncio.run(run)
        finally:
            try:
                batch_scale.wait_for_empty_queue(bed, timeout=120)
            except RuntimeError as exc:
                print(exc, flush=True)
            batch_scale.restart_slurm({})


if __name__ == "__main__":
    cli()
