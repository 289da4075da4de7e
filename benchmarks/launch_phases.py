"""Where a local launch's time goes, until N workers are shown, against dask-labextension started
both ways users start Jupyter, all in the same run.

Every step is a wall-clock time on this machine, from the launch request (``POST`` for the
launcher, ``PUT /dask/clusters`` for dask-labextension), read from what each step leaves behind:

- **answered**: the REST answer (dask-labextension answers once its cluster is up: its "shown");
- **credentials**: the cluster's TLS files written (their oldest mtime, the server writes them);
- **host listening**: the host's record written (``hosting.host``: after its control server
  listens; a host is forked from the host forker before this);
- **scheduler created**: the scheduler's own ``started`` (``Scheduler.__init__``);
- **1st / last worker process**: the worker processes' start (``psutil`` ``create_time``, 10 ms
  steps): descendants of the host (or of dask-labextension's server) started after the request;
- **1st / last joined**: the scheduler's ``add-worker`` events (the process imported
  distributed, connected over TLS, registered);
- **running event**: the launcher's event with the cluster ``running`` (scheduler up, workers
  asked for); **shown**: the event with N running workers (dask-labextension: its answer).

Each server runs alone with its own extension: the launcher (``python -m jupyter_server``), and
dask-labextension under ``python -m jupyter_server`` and under the console script ``jupyter
server`` (its worker processes then import the Jupyter server again: their ``__main__`` is the
script), one of each per N (its factory makes N workers). Launches alternate between them, each on
a quiet machine, one unmeasured launch first per server.

    python benchmarks/launch_phases.py [--workers 2,8] [--repetitions 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.launch import (
    Launch,
    labextension_launched,
    launched_local,
    scheduler_record,
    wait_shown,
)
from benchmarks.observe import launcher_security, wait_until_quiet
from benchmarks.servers import LABEXTENSION_FACTORY_ENV, EventStream, JupyterServer
from benchmarks.stats import Row, Sample, seconds

STEPS = (
    ("answered", "answered"),
    ("credentials", "credentials"),
    ("host", "host listening"),
    ("scheduler", "scheduler created"),
    ("first_process", "1st worker process"),
    ("last_process", "last worker process"),
    ("first_join", "1st joined"),
    ("last_join", "last joined"),
    ("running", "running event"),
    ("shown", "shown"),
)


def boot_time_error() -> float:
    """How far ``psutil``'s boot time (whole seconds, from /proc/stat) is from the real one
    (``time.time()`` less /proc/uptime): its ``create_time`` is off by as much."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return psutil.boot_time() - (time.time() - uptime)


def new_processes(root: psutil.Process, after: float) -> list[float]:
    """Start times of ``root``'s descendants started after ``after`` (its worker processes,
    spawned or forked from a fork server)."""
    times = []
    error = boot_time_error()
    for child in root.children(recursive=True):
        try:  # not the worker fork server (it has children) nor the resource tracker
            if child.children() or "resource_tracker" in " ".join(child.cmdline()):
                continue
            started = child.create_time() - error
        except psutil.Error:
            continue
        if started >= after - 0.01:  # create_time counts in 10 ms clock ticks
            times.append(started)
    return sorted(times)


def host_of(server: JupyterServer, cluster_id: str) -> psutil.Process:
    """The cluster's host: the server's child, or its host forker's."""
    assert server.process is not None
    for child in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if child.name() == f"dcl{cluster_id}"[:15]:
                return child
        except psutil.Error:
            continue
    raise RuntimeError(f"no host process for cluster {cluster_id}")


async def launcher_once(server: JupyterServer, stream: EventStream, workers: int) -> dict:
    async with launched_local(server, stream, workers) as launch:
        running, shown, event = await wait_shown(stream, launch, workers)
        cluster_id = launch.cluster_id
        processes = new_processes(host_of(server, cluster_id), launch.start)
        security = launcher_security(cluster_id)
        from dask_cluster_launcher.private import PrivateDir

        files = [p for p in PrivateDir.at().cluster(cluster_id).directory.iterdir() if p.is_file()]
        credentials = min(p.stat().st_mtime for p in files)
        record = server.workdir / "runtime" / "dask-cluster-launcher" / f"{cluster_id}.json"
        host = record.stat().st_mtime
        address = event["cluster"]["scheduler_address"]
        facts = await scheduler_record(address, launch.start, security)
    return steps(launch, credentials, host, facts, processes, running, shown)


async def labextension_once(server: JupyterServer, workers: int) -> dict:
    assert server.process is not None
    async with labextension_launched(server, workers) as launch:
        processes = new_processes(psutil.Process(server.process.pid), launch.start)
        assert launch.model is not None
        address = launch.model["scheduler_address"]
        facts = await scheduler_record(address, launch.start, workers=workers)
    shown = max(launch.answered, facts[0][-1])
    return steps(launch, None, None, facts, processes, None, shown)


def steps(
    launch: Launch,
    credentials: float | None,
    host: float | None,
    facts: tuple[list[float], float | None],
    processes: list[float],
    running: float | None,
    shown: float,
) -> dict:
    joins, scheduler_started = facts
    found = {
        "answered": launch.answered,
        "credentials": credentials,
        "host": host,
        "scheduler": scheduler_started,
        "first_process": processes[0] if processes else None,
        "last_process": processes[-1] if processes else None,
        "first_join": joins[0] if joins else None,
        "last_join": joins[-1] if joins else None,
        "running": running,
        "shown": shown,
    }
    return {key: None if value is None else value - launch.start for key, value in found.items()}


def phase_header() -> str:
    names = " | ".join(label for _, label in STEPS)
    return f"| Run | {names} |\n|---|" + "---|" * len(STEPS)


def phase_line(name: str, runs: list[dict]) -> str:
    cells = []
    for key, _ in STEPS:
        values = [v for r in runs if (v := r.get(key)) is not None]
        cells.append(seconds(Sample(values).median) if values else "-")
    return f"| {name} | " + " | ".join(cells) + " |"


SIDES = {
    "launcher": "launcher",
    "labext-m": "dask-labextension, `python -m jupyter_server`",
    "labext-script": "dask-labextension, `jupyter server`",
}


def labextension_server(workers: int, console_script: bool = False) -> JupyterServer:
    """A server with dask-labextension alone, its factory making N local workers as the
    launcher's local backend does (not started)."""
    env = {
        **LABEXTENSION_FACTORY_ENV,
        "DASK_LABEXTENSION__FACTORY__KWARGS__N_WORKERS": str(workers),
    }
    return JupyterServer({"dask_labextension": True}, env, console_script=console_script)


async def start_servers(counts: tuple[int, ...]) -> dict[tuple[str, int], Any]:
    launcher = JupyterServer({"dask_cluster_launcher": True})
    await launcher.start()
    stream = await launcher.events()
    servers: dict[tuple[str, int], Any] = {}
    for n in counts:
        servers[("launcher", n)] = (launcher, stream)
        for side, script in (("labext-m", False), ("labext-script", True)):
            server = labextension_server(n, console_script=script)
            await server.start()
            servers[(side, n)] = (server, None)
    return servers


async def once(side: str, n: int, server: JupyterServer, stream: EventStream | None) -> dict:
    if side == "launcher":
        assert stream is not None
        return await launcher_once(server, stream, n)
    return await labextension_once(server, n)


async def run(
    counts: tuple[int, ...] = (2, 8), repetitions: int = 3
) -> tuple[list[Row], list[str]]:
    servers = await start_servers(counts)
    results: dict[tuple[str, int], list[dict]] = {key: [] for key in servers}
    try:
        for key, (server, stream) in servers.items():  # each server's first cluster: imports
            await once(*key, server, stream)
        for i in range(repetitions):
            for n in counts:
                order = list(SIDES) if i % 2 == 0 else list(reversed(SIDES))
                for side in order:
                    await wait_until_quiet()
                    server, stream = servers[(side, n)]
                    results[(side, n)].append(await once(side, n, server, stream))
                shown = ", ".join(
                    f"{side} {results[(side, n)][-1]['shown']:.2f} s" for side in SIDES
                )
                print(f"  launch phases rep {i + 1}, {n} workers: {shown}", flush=True)
    finally:
        stopped = set()
        for server, stream in servers.values():
            if id(server) not in stopped:
                stopped.add(id(server))
                if stream is not None:
                    stream.close()
                await server.stop()
    rows: list[Row] = []
    lines = [phase_header()]
    for n in counts:
        ours = Sample([r["shown"] for r in results[("launcher", n)]])
        for side in ("labext-m", "labext-script"):
            rows.append(
                Row(
                    f"Launch until {n} workers are shown, local (phases run)",
                    ours,
                    Sample([r["shown"] for r in results[(side, n)]]),
                    SIDES[side],
                )
            )
        lines += [phase_line(f"{SIDES[side]}, {n} workers", results[(side, n)]) for side in SIDES]
    return rows, lines


def main() -> None:
    from benchmarks.stats import TABLE_HEADER

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="2,8", help="comma-separated N")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    counts = tuple(int(n) for n in args.workers.split(","))
    rows, lines = asyncio.run(run(counts, args.repetitions))
    print(TABLE_HEADER)
    print("\n".join(row.markdown() for row in rows))
    print("\nSeconds from the launch request (medians):\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
