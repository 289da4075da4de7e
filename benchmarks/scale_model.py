"""The synthetic half of ``scale``: a model of 1,000 workers and 400 batch jobs, rows as the
host and the backends build them, published through a real Jupyter event logger as the
server's WebSocket sends them, with no cluster and no server. Measured: the bytes of one
worker joining and of one job changing state, the host->server watch answer, the time for the
server to apply and publish one host patch, a job poll where nothing changed, the host's look
at its workers when nothing changed, and parsing one ``squeue``/``qstat`` output of 400 jobs
with the backends' own code. Baseline: the whole cluster (what a full republish sends).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.stats import Row, Sample

WORKERS, JOBS = 1000, 400
CLUSTER_ID = "0123456789ab"


@dataclass
class Amount(Sample):
    """A Sample of bytes, bytes/s or percent of a core (``stats.Sample`` formats seconds)."""

    unit: str = "B"

    def format(self, value: float) -> str:
        if self.unit == "%":
            return f"{value:.2f}% of a core"
        if value >= 10_000:
            return f"{value / 1000:.0f} k{self.unit}"
        return f"{value:.0f} {self.unit}"

    def describe(self) -> str:
        if not self.values:
            return "n/a"
        lo, hi = min(self.values), max(self.values)
        if lo == hi:
            return f"**{self.format(lo)}**"
        return f"**{self.format(self.median)}** ({self.format(lo)} - {self.format(hi)})"


def worker_rows(n: int) -> list[dict[str, Any]]:
    """Workers as the host's backend builds them (``backends.base``), 2-3 per batch job."""
    from dask_cluster_launcher.backends.base import _worker_row

    rows = []
    for i in range(n):
        job = i % JOBS
        address = f"tls://10.1.{job // 200}.{job % 200 + 10}:{40000 + i}"
        name, running = f"dcl-{CLUSTER_ID}-{job}-{i // JOBS}", SimpleNamespace(name="running")
        row = _worker_row(address, name, address[6:-6], 1, 4_000_000_000, running)
        row["job_id"] = str(7_000_000 + job)
        rows.append(row)
    return rows


def squeue_output(states: dict[int, str] | None = None) -> str:
    """``squeue -h -o %i|%j|%T|%r|%N|%L`` as SLURM prints it for the launcher's 400 jobs."""
    states = states or {}
    lines = []
    for job in range(JOBS):
        state = states.get(job, "RUNNING")
        node, reason = (f"node-{job % 50:03d}", "None") if state == "RUNNING" else ("", "Priority")
        lines.append(f"{7_000_000 + job}|dcl-{CLUSTER_ID}|{state}|{reason}|{node}|12:34")
    return "\n".join(lines) + "\n"


def qstat_xml() -> str:
    """``qstat -r -xml`` with 360 running and 40 waiting jobs of the launcher's."""
    running, waiting = [], []
    for job in range(JOBS):
        number = (
            f"<JB_job_number>{7_000_000 + job}</JB_job_number><JB_name>dcl-{CLUSTER_ID}</JB_name>"
        )
        rt = '<hard_request name="h_rt" resource_contribution="0.000000">1200</hard_request>'
        if job < 360:
            running.append(
                f'<job_list state="running">{number}<state>r</state><JAT_start_time>'
                f"2026-11-30T15:32:12</JAT_start_time><queue_name>all.q@node-{job % 50:03d}"
                f"</queue_name>{rt}</job_list>"
            )
        else:
            waiting.append(f'<job_list state="pending">{number}<state>qw</state>{rt}</job_list>')
    return (
        "<?xml version='1.0'?><job_info><queue_info>" + "".join(running) + "</queue_info>"
        "<job_info>" + "".join(waiting) + "</job_info></job_info>"
    )


class Wire:
    """The launcher's event publisher with one subscriber, which records the size of each
    message as the ``dask-cluster-launcher/events`` WebSocket sends it."""

    def __init__(self) -> None:
        from dask_cluster_launcher import events

        self.publisher = events.ClusterEventPublisher()
        self.sizes: list[int] = []
        self.publisher.subscribe(lambda text: self.sizes.append(len(text.encode())))

    async def sent(self, publish: Callable[[], None]) -> tuple[float, int]:
        """(seconds until the event is serialized for the WebSocket, its bytes; 0: none)."""
        count = len(self.sizes)
        started = time.perf_counter()
        publish()
        await asyncio.sleep(0)  # as long as the server takes to write it
        took = time.perf_counter() - started
        return took, (self.sizes[-1] if len(self.sizes) > count else 0)


async def synthetic() -> list[Row]:
    from dask_cluster_launcher.backends import default_backends
    from dask_cluster_launcher.backends.batch.slurm import parse_squeue
    from dask_cluster_launcher.changes import Mirror, VersionedModel
    from dask_cluster_launcher.handles.hosted import apply_host_patch
    from dask_cluster_launcher.launched import LaunchedCluster
    from dask_cluster_launcher.manager import ClusterManager
    from dask_cluster_launcher.profiles import ProfileStore

    wire = Wire()
    backends = default_backends()
    manager = ClusterManager(
        backends, ProfileStore.for_backends(backends), wire.publisher, records_dir=Path("/none")
    )
    launched = LaunchedCluster(CLUSTER_ID, "big", backends["slurm"], {}, {}, {"workers": WORKERS})
    manager._clusters[launched.id] = launched
    rows = worker_rows(WORKERS + 1)
    fields = {"state": "running", "error": None, "scheduler_address": "tls://10.0.0.1:8786"}
    fields.update(messages=[], scaling={"workers": WORKERS}, versions={"python": "3.11.7"})
    host = VersionedModel(fields)
    host.update({}, rows[:WORKERS])
    mirror = Mirror()

    def mirrored(patch: Any) -> None:  # what the cluster's handle does with a host's patch
        if apply_host_patch(launched, patch, "running", launched.backend):
            manager._publish(launched)

    mirrored(mirror.apply(host.since(0)))
    launched.job_rows.replace(parse_squeue(squeue_output())[f"dcl-{CLUSTER_ID}"])
    manager._publish(launched)

    hop, hop_whole = Amount(), Amount()
    join, job, whole = Amount(), Amount(), Amount()
    publish, republish = Sample(), Sample()
    for i in range(40):  # a worker joins, then leaves
        host.update({}, rows[: WORKERS + (i % 2 == 0)])
        answer = host.since(mirror.version)
        took, size = await wire.sent(lambda a=answer: mirrored(mirror.apply(a)))
        publish.add(took)
        if i % 2 == 0:
            join.add(size)
            hop.add(len(json.dumps(answer)))
            hop_whole.add(len(json.dumps(host.since(0))))
    for i in range(10):
        took, size = await wire.sent(
            lambda: manager.publisher._emit("updated", CLUSTER_ID, manager.model(launched))
        )
        republish.add(took)
        whole.add(size)
        polled = parse_squeue(squeue_output({i: "COMPLETING"}))[f"dcl-{CLUSTER_ID}"]
        launched.job_rows.replace(polled)
        _, size = await wire.sent(lambda: manager._publish(launched))
        job.add(size)
        launched.job_rows.replace(parse_squeue(squeue_output())[f"dcl-{CLUSTER_ID}"])
        manager._publish(launched)  # back as it was

    # a job poll where nothing changed: parse, compare, publish nothing
    squeue, xml = squeue_output(), qstat_xml()
    parse, sge_parse, quiet, full = Sample(), Sample(), Sample(), Sample()
    sge = backends["sge"]

    async def fake_run(*command: str, check: bool = True) -> str:
        return xml if "-r" in command else "<detailed_job_info></detailed_job_info>"

    sge.run = fake_run
    for _ in range(20):
        started = time.perf_counter()
        polled = parse_squeue(squeue)[f"dcl-{CLUSTER_ID}"]
        parsed = time.perf_counter()
        changed = launched.job_rows.replace(polled)
        if changed:
            raise RuntimeError("the quiet poll found a change")
        manager._publish(launched)
        quiet.add(time.perf_counter() - parsed)
        parse.add(parsed - started)
        started = time.perf_counter()
        await sge.job_states([f"dcl-{CLUSTER_ID}"])
        sge_parse.add(time.perf_counter() - started)
        started = time.perf_counter()
        await wire.sent(
            lambda: manager.publisher._emit("updated", CLUSTER_ID, manager.model(launched))
        )
        full.add(time.perf_counter() - started)

    look, rebuild = await host_look()
    whole_event = f"whole-cluster event ({WORKERS:,} workers, {JOBS} jobs)"
    poll = {"theoretical": "1 s (the ratio is the share of one core)", "theoretical_value": 1.0}
    return [
        Row(
            "synthetic: event bytes, one worker joins",
            join,
            whole,
            whole_event,
            "the `changed` event as the server's WebSocket sends it",
        ),
        Row("synthetic: event bytes, one job changes state", job, whole, whole_event),
        Row(
            "synthetic: host->server watch answer, one worker joins",
            hop,
            hop_whole,
            "the host's whole model (each answer before)",
            "JSON size; Dask's RPC sends msgpack",
        ),
        Row(
            "synthetic: server applies + publishes one host patch",
            publish,
            republish,
            "publishing the whole cluster",
            "mirror.apply, _mirror, the event logger (deep copy, validation), serialization",
        ),
        Row(
            "synthetic: job poll with nothing changed, after parsing",
            quiet,
            full,
            "a whole-cluster republish",
            f"compare each of the {JOBS} job rows; nothing is published",
        ),
        Row(f"synthetic: parse squeue output, {JOBS} jobs", parse, None, "job poll", **poll),
        Row(f"synthetic: parse qstat -r -xml, {JOBS} jobs", sge_parse, None, "job poll", **poll),
        Row(
            f"synthetic: host's look at {WORKERS:,} workers, unchanged",
            look,
            rebuild,
            "rows rebuilt by the backend (SLURM job ids) and compared",
            "the host looks once a second, 10 times a second for 2 s after a scheduler event",
        ),
    ]


async def host_look() -> tuple[Sample, Sample]:
    """The host's look at its workers when nothing changed (the scheduler's view compared)
    against rebuilding every row with the backend and comparing them (each look before)."""
    from dask_cluster_launcher.backends import default_backends
    from dask_cluster_launcher.hosting.host import ClusterHost
    from dask_cluster_launcher.hosting.records import HostSpec

    backend = default_backends()["slurm"]
    rows = worker_rows(WORKERS)
    running = SimpleNamespace(name="running")
    scheduler_workers = {r["address"]: SimpleNamespace(**{**r, "status": running}) for r in rows}
    jobs = {
        f"dcl-{CLUSTER_ID}-{job}": SimpleNamespace(job_id=str(7_000_000 + job))
        for job in range(JOBS)
    }
    with tempfile.TemporaryDirectory() as root:
        spec = HostSpec(CLUSTER_ID, "big", "slurm", {}, {"workers": WORKERS}, root, root)
        host = ClusterHost(spec, backend)
        host.cluster = SimpleNamespace(
            scheduler=SimpleNamespace(workers=scheduler_workers), workers=jobs
        )
        await host._update(workers=await backend.workers(host.cluster))
        last = host._scheduler_view()
        look, rebuild = Sample(), Sample()
        for _ in range(10):
            started = time.perf_counter()
            if host._scheduler_view() != last:
                raise RuntimeError("the view changed")
            look.add(time.perf_counter() - started)
            started = time.perf_counter()
            await host._update(workers=await backend.workers(host.cluster))
            rebuild.add(time.perf_counter() - started)
    return look, rebuild
