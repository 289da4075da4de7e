"""Memory on the Jupyter machine per running cluster, as PSS (``/proc/PID/smaps_rollup``: each
shared page split between the processes that map it, so hosts that share libraries are not
counted in full each, as RSS would).

Per cluster = (Jupyter server + the host forker + every cluster host process and its helper
processes, workers excluded, with N clusters running) - (the same before its first cluster),
/ N: what the clusters add, the forker's change included (hosts forked from it share its pages,
so they count less to it). The host forker itself (one per server, every host forks from it,
with its resource tracker) is reported apart, as it is before the first cluster. Baseline:
dask-labextension's clusters, which live in the server process (the server's growth, its worker
processes excluded). Each side runs in a fresh ``python -m jupyter_server`` with only its own
extension, the same ``LocalCluster``: 1 idle worker process per cluster (N = 1 and 10); then one
cluster of 100 thread workers (their memory is in the host, or in dask-labextension's server).
The notes split the launcher's figure by process: the server's growth, the hosts, their worker
fork servers, the resource trackers, the forker.

    python benchmarks/memory.py          # 2-5 min (10 hosts start at once)
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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


def name_of(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return ""


def kind_of(process: psutil.Process, parent_kind: str) -> str:
    """What a process under the launcher's server is, by the names the launcher gives them: a
    host ``dcl<cluster id>`` (``hosting.start.name_process``), its worker fork server
    ``dclw<id>`` (whose children, named the same, are workers), a resource tracker
    (``dcl-tracker``, the forker's, or ``dclr<id>``, a host's own), the host forker (``run_host
    --forker``, unnamed), a spawned worker (``spawn_main``)."""
    name = name_of(process)
    if name == "dcl-tracker" or name.startswith("dclr"):
        return "resource tracker"
    if name.startswith("dclw"):
        return "worker" if parent_kind == "fork server" else "fork server"
    if name.startswith("dcl"):
        return "host"
    try:
        command = process.cmdline()
    except psutil.Error:
        return "other"
    if any("spawn_main" in part for part in command):
        return "worker"
    if command[-1:] == ["--forker"]:
        return "forker"
    if any("resource_tracker" in part for part in command):
        return "resource tracker"
    return "other"


#: What the per-cluster figure counts besides the server (workers are left out).
COUNTED = ("host", "fork server", "resource tracker", "forker")


@dataclass
class Tree:
    """PSS of a launcher server's processes (MB): the server, and its descendants by kind."""

    server: float
    kinds: dict[str, float] = field(default_factory=dict)
    hosts: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        """The server, the forker, the hosts and their helpers (not the workers)."""
        return self.server + sum(self.kinds.get(kind, 0.0) for kind in COUNTED)

    def kind(self, kind: str) -> float:
        return self.kinds.get(kind, 0.0)


def server_tree(pid: int) -> Tree:
    tree = Tree(server=pss_mb(pid))
    stack = [(child, "server") for child in psutil.Process(pid).children()]
    while stack:
        process, parent_kind = stack.pop()
        kind = kind_of(process, parent_kind)
        mb = pss_mb(process.pid)
        tree.kinds[kind] = tree.kinds.get(kind, 0.0) + mb
        if kind == "host":
            tree.hosts.append(mb)
        with contextlib.suppress(psutil.Error):
            stack += [(child, kind) for child in process.children()]
    return tree


class MegabyteSample(Sample):
    def describe(self) -> str:
        if not self.values:
            return "n/a"
        lo, hi = min(self.values), max(self.values)
        if len(self.values) == 1:
            return f"**{self.median:.1f} MB**"
        return f"**{self.median:.1f} MB** ({lo:.1f} - {hi:.1f} MB)"


async def settle() -> None:
    """Let start-up work end (the host forker importing, workers registering) before reading."""
    await wait_until_quiet(threshold=0.3, timeout=5)
    await asyncio.sleep(0.5)


async def start(extension: str, env: dict[str, str]) -> tuple[JupyterServer, EventStream | None]:
    server = JupyterServer({extension: True}, env)
    await server.start()
    stream = await server.events() if extension == "dask_cluster_launcher" else None
    return server, stream


async def wait_for_forker(server: JupyterServer, timeout: float = 60.0) -> None:
    assert server.process is not None
    for _ in range(int(timeout / 0.5)):
        if server_tree(server.process.pid).kind("resource tracker"):  # forked once warmed up
            break
        await asyncio.sleep(0.5)
    await settle()


async def grow(
    counts: tuple[int, ...],
    launch: Callable[[int], Awaitable[list[str]]],
    read: Callable[[int], float],
) -> tuple[dict[int, float], list[str]]:
    """For each N in ``counts``: launch clusters until N run (``launch(how_many)``: their ids,
    once they run), let them settle, and read the side's total MB (``read(N)``, which prints
    what it saw). {N: total}, every cluster id."""
    totals: dict[int, float] = {}
    running: list[str] = []
    for count in counts:
        running += await launch(count - len(running))
        await settle()
        totals[count] = read(count)
    return totals, running


async def launcher_side(options: dict[str, Any], counts: tuple[int, ...], workers: int):
    """{N: MB per cluster}, {N: {process kind: MB per cluster}}, the host forker's MB (with its
    resource tracker) before any cluster, the server's MB then."""
    server, stream = await start("dask_cluster_launcher", {})
    assert server.process is not None and stream is not None
    pid = server.process.pid
    parts: dict[int, dict[str, float]] = {}

    async def launch(how_many: int) -> list[str]:
        since, new = stream.mark(), []
        for _ in range(how_many):
            body = {"backend": "local", "options": options, "scaling": {"workers": workers}}
            code, model = await server.request("POST", "dask-cluster-launcher/clusters", body)
            if code != 202:
                raise RuntimeError(f"POST clusters answered {code}: {model}")
            new.append(model["id"])
        for cluster_id in new:
            ready = cluster_event(cluster_id, lambda m: running_workers(m) >= workers)
            await stream.wait_for(ready, since, timeout=300)
        return new

    def read(count: int) -> float:
        tree = server_tree(pid)
        if len(tree.hosts) != count:
            raise RuntimeError(f"{count} clusters but {len(tree.hosts)} hosts")
        parts[count] = {"server's growth": (tree.server - before.server) / count}
        for kind in COUNTED:
            parts[count][kind] = (tree.kind(kind) - before.kind(kind)) / count
        print(
            f"  launcher, {count} cluster(s): server {tree.server:.1f} MB (was "
            f"{before.server:.1f}), hosts {statistics.median(tree.hosts):.1f} MB each (median), "
            f"fork servers {tree.kind('fork server') / count:.1f}, resource trackers "
            f"{tree.kind('resource tracker'):.1f} MB in all (was "
            f"{before.kind('resource tracker'):.1f}), forker {tree.kind('forker'):.1f} MB (was "
            f"{before.kind('forker'):.1f})",
            flush=True,
        )
        return tree.total

    try:
        await wait_for_forker(server)
        before = server_tree(pid)
        totals, running = await grow(counts, launch, read)
        for cluster_id in running:
            await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
    finally:
        stream.close()
        await server.stop()
    # what N clusters added to everything the server runs, the forker's change included (its
    # pages, shared with more processes, count less to it)
    per_cluster = {n: (totals[n] - before.total) / n for n in counts}
    forker = before.kind("forker") + before.kind("resource tracker")
    return per_cluster, parts, forker, before.server


async def labextension_side(env: dict[str, str], counts: tuple[int, ...]):
    """{N: MB per cluster} (the server's growth), the server's MB before any cluster."""
    server, _ = await start("dask_labextension", {**LABEXTENSION_FACTORY_ENV, **env})
    assert server.process is not None
    pid = server.process.pid

    async def launch(how_many: int) -> list[str]:
        new = []
        for _ in range(how_many):
            code, model = await server.request("PUT", "dask/clusters")
            if code != 200:
                raise RuntimeError(f"PUT /dask/clusters answered {code}: {model}")
            new.append(model["id"])
        return new

    def read(count: int) -> float:
        print(
            f"  dask-labextension, {count} cluster(s): server {pss_mb(pid):.1f} MB "
            f"(was {before:.1f})",
            flush=True,
        )
        return pss_mb(pid)

    try:
        await settle()
        before = pss_mb(pid)
        totals, running = await grow(counts, launch, read)
        for cluster_id in running:
            await server.request("DELETE", f"dask/clusters/{cluster_id}")
    finally:
        await server.stop()
    return {n: (totals[n] - before) / n for n in counts}, before


def mb_row(name: str, ours: float, baseline: float | None, baseline_name: str, note: str) -> Row:
    base = MegabyteSample([baseline]) if baseline is not None else None
    return Row(name, MegabyteSample([ours]), base, baseline_name, note)


def breakdown(parts: dict[str, float]) -> str:
    return ", ".join(f"{kind} {mb:.1f}" for kind, mb in parts.items()) + " MB"


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
    ours, parts, forker, server_ours = await launcher_side(processes, IDLE_COUNTS, 1)
    theirs, server_theirs = await labextension_side(one_process, IDLE_COUNTS)
    ours_threads, _, _, _ = await launcher_side(threads, (1,), THREAD_WORKERS)
    theirs_threads, _ = await labextension_side(many_threads, (1,))
    labext = "dask-labextension (in the server)"
    rows = [
        mb_row(
            f"Memory per idle local cluster, PSS ({n} running; what they add to the server, the "
            "forker, the hosts and their helpers; workers excluded)",
            ours[n],
            theirs[n],
            labext,
            f"per cluster: {breakdown(parts[n])}",
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
            "Host forker (one per server, every host forks from it; with its resource "
            "tracker), PSS before any cluster",
            MegabyteSample([forker]),
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
