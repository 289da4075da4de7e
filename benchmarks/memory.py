"""Memory on the Jupyter machine per running cluster, as PSS (``/proc/PID/smaps_rollup``: each
shared page split between the processes that map it, so hosts that share libraries are not
counted in full each, as RSS would).

Per cluster = (Jupyter server + every cluster host process and its helper processes, workers
excluded, with N clusters running) - (the same server before its first cluster), / N. The
launcher's spare host (one per server, ready for the next launch) is reported apart. Baseline:
dask-labextension's clusters, which live in the server process (the server's growth, its worker
processes excluded). Each side runs in a fresh ``python -m jupyter_server`` with only its own
extension, the same ``LocalCluster``: 1 idle worker process per cluster (N = 1 and 10); then one
cluster of 100 thread workers (their memory is in the host, or in dask-labextension's server).

    python benchmarks/memory.py          # 2-5 min (10 hosts start at once)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.observe import cluster_event, running_workers, wait_until_quiet
from benchmarks.servers import LABEXTENSION_FACTORY_ENV, EventStream, JupyterServer
from benchmarks.stats import Row, Sample

IDLE_COUNTS = (1, 10)
THREAD_WORKERS = 100


def pss_mb(pid: int) -> float:
    """The process's proportional set size in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0.0


def is_host(process: psutil.Process) -> bool:
    """A cluster host names itself ``dcl<cluster id>`` (``hosting.start.name_process``)."""
    try:
        return process.name().startswith("dcl")
    except psutil.Error:
        return False


def is_spare(process: psutil.Process) -> bool:
    try:
        return "--spare" in process.cmdline() and not is_host(process)
    except psutil.Error:
        return False


def helpers(host: psutil.Process) -> float:
    """PSS of a host's helper processes (multiprocessing's resource tracker, the worker fork
    server: ``hosting.worker_forkserver``), not of its workers: those spawned (``spawn_main``)
    and those the fork server forked (its children)."""
    total = 0.0
    for child in host.children():
        try:
            if "spawn_main" not in " ".join(child.cmdline()):
                total += pss_mb(child.pid)
        except psutil.Error:
            continue
    return total


def server_tree(pid: int) -> dict[str, Any]:
    """PSS of the server, its cluster hosts, their helpers and its spare host (the workers are
    left out)."""
    children = [c for c in psutil.Process(pid).children() if is_host(c) or is_spare(c)]
    hosts = [c for c in children if is_host(c)]
    spares = [pss_mb(c.pid) for c in children if is_spare(c)]
    return {
        "server": pss_mb(pid),
        "hosts": [pss_mb(c.pid) for c in hosts],
        "helpers": [helpers(c) for c in hosts],
        "spare": sum(spares),
        "spares": len(spares),
    }


class MegabyteSample(Sample):
    def describe(self) -> str:
        if not self.values:
            return "n/a"
        lo, hi = min(self.values), max(self.values)
        if len(self.values) == 1:
            return f"**{self.median:.1f} MB**"
        return f"**{self.median:.1f} MB** ({lo:.1f} - {hi:.1f} MB)"


async def settle() -> None:
    """Let start-up work end (a spare host importing, workers registering) before reading."""
    await wait_until_quiet(threshold=0.3, timeout=5)
    await asyncio.sleep(0.5)


async def start(extension: str, env: dict[str, str]) -> tuple[JupyterServer, EventStream | None]:
    server = JupyterServer({extension: True}, env)
    await server.start()
    stream = await server.events() if extension == "dask_cluster_launcher" else None
    return server, stream


async def wait_for_spare(server: JupyterServer, timeout: float = 60.0) -> None:
    assert server.process is not None
    for _ in range(int(timeout / 0.5)):
        if server_tree(server.process.pid)["spares"]:
            break
        await asyncio.sleep(0.5)
    await settle()


async def launcher_side(options: dict[str, Any], counts: tuple[int, ...], workers: int):
    """{N: MB per cluster}, the spare's MB, the server's MB before any cluster."""
    server, stream = await start("dask_cluster_launcher", {})
    assert server.process is not None and stream is not None
    pid = server.process.pid
    per_cluster: dict[int, float] = {}
    per_helpers: dict[int, float] = {}
    try:
        await wait_for_spare(server)
        before = server_tree(pid)
        running: list[str] = []
        for count in counts:
            since = stream.mark()
            new = []
            for _ in range(count - len(running)):
                body = {"backend": "local", "options": options, "scaling": {"workers": workers}}
                code, model = await server.request("POST", "dask-cluster-launcher/clusters", body)
                if code != 202:
                    raise RuntimeError(f"POST clusters answered {code}: {model}")
                new.append(model["id"])
            for cluster_id in new:
                ready = cluster_event(cluster_id, lambda m: running_workers(m) >= workers)
                await stream.wait_for(ready, since, timeout=300)
            running += new
            await settle()
            tree = server_tree(pid)
            if len(tree["hosts"]) != len(running):
                raise RuntimeError(f"{len(running)} clusters but {len(tree['hosts'])} hosts")
            total = tree["server"] + sum(tree["hosts"]) + sum(tree["helpers"])
            per_cluster[count] = (total - before["server"]) / count
            per_helpers[count] = sum(tree["helpers"]) / count
            print(
                f"  launcher, {count} cluster(s): server {tree['server']:.1f} MB (was "
                f"{before['server']:.1f}), hosts {statistics.median(tree['hosts']):.1f} MB "
                f"each (median), their helpers {statistics.median(tree['helpers']):.1f} MB, "
                f"spare {tree['spare']:.1f} MB",
                flush=True,
            )
        for cluster_id in running:
            await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
    finally:
        stream.close()
        await server.stop()
    return per_cluster, per_helpers, before["spare"], before["server"]


async def labextension_side(env: dict[str, str], counts: tuple[int, ...]):
    """{N: MB per cluster} (the server's growth), the server's MB before any cluster."""
    server, _ = await start("dask_labextension", {**LABEXTENSION_FACTORY_ENV, **env})
    assert server.process is not None
    pid = server.process.pid
    per_cluster: dict[int, float] = {}
    try:
        await settle()
        before = pss_mb(pid)
        running: list[str] = []
        for count in counts:
            while len(running) < count:
                code, model = await server.request("PUT", "dask/clusters")
                if code != 200:
                    raise RuntimeError(f"PUT /dask/clusters answered {code}: {model}")
                running.append(model["id"])
            await settle()
            per_cluster[count] = (pss_mb(pid) - before) / count
            print(
                f"  dask-labextension, {count} cluster(s): server {pss_mb(pid):.1f} MB "
                f"(was {before:.1f})",
                flush=True,
            )
        for cluster_id in running:
            await server.request("DELETE", f"dask/clusters/{cluster_id}")
    finally:
        await server.stop()
    return per_cluster, before


def mb_row(name: str, ours: float, baseline: float | None, baseline_name: str, note: str) -> Row:
    base = MegabyteSample([baseline]) if baseline is not None else None
    return Row(name, MegabyteSample([ours]), base, baseline_name, note)


async def run() -> tuple[list[Row], list[str]]:
    processes = {"threads_per_worker": 1, "processes": True}
    threads = {"threads_per_worker": 1, "processes": False}
    one_process = {
        "DASK_LABEXTENSION__FACTORY__KWARGS__N_WORKERS": "1",
        "DASK_LABEXTENSION__FACTORY__KWARGS__PROCESSES": "True",
    }
    many_threads = {
        "DASK_LABEXTENSION__FACTORY__KWARGS__N_WORKERS": str(THREAD_WORKERS),
        "DASK_LABEXTENSION__FACTORY__KWARGS__PROCESSES": "False",
    }
    ours, ours_helpers, spare, server_ours = await launcher_side(processes, IDLE_COUNTS, 1)
    theirs, server_theirs = await labextension_side(one_process, IDLE_COUNTS)
    ours_threads, _, _, _ = await launcher_side(threads, (1,), THREAD_WORKERS)
    theirs_threads, _ = await labextension_side(many_threads, (1,))
    labext = "dask-labextension (in the server)"
    rows = [
        mb_row(
            f"Memory per idle local cluster, PSS ({n} running; server + host, workers excluded)",
            ours[n],
            theirs[n],
            labext,
            f"of which the host's helpers (worker fork server, resource tracker) "
            f"{ours_helpers[n]:.1f} MB",
        )
        for n in IDLE_COUNTS
    ]
    rows.append(
        mb_row(
            f"Memory of a cluster with {THREAD_WORKERS} thread workers, PSS",
            ours_threads[1],
            theirs_threads[1],
            labext,
            "",
        )
    )
    rows.append(
        Row(
            "Spare host (one per server, ready for the next launch), PSS",
            MegabyteSample([spare]),
            None,
            "the issue's goal",
            note=f"the Jupyter servers before any cluster: launcher {server_ours:.1f} MB, "
            f"dask-labextension {server_theirs:.1f} MB",
            theoretical="60 MB",
            theoretical_value=60.0,
        )
    )
    return rows, []


def main() -> None:
    from benchmarks.stats import TABLE_HEADER

    rows, _ = asyncio.run(run())
    print(TABLE_HEADER)
    for row in rows:
        print(row.markdown())
    for row in rows:
        if row.note:
            print(f"- {row.name}: {row.note}")


if __name__ == "__main__":
    main()
