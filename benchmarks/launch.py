"""Launch response time: the launcher's ``POST clusters`` (202 at once) against
dask-labextension's ``PUT /dask/clusters`` (answers once the cluster is up), same LocalCluster.

Also: launch until the 2 workers are visible to the user (the launcher's event on the events
WebSocket; dask-labextension's sidebar shows its cluster right after the PUT answers).

The launch steps themselves (``launched_local``, ``wait_shown``, ``labextension_launched``,
``scheduler_record``) are shared with ``launch_phases.py`` and ``first_task.py``, which time
more around them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .observe import (
    cluster_event,
    connect,
    join_times,
    launcher_security,
    running_workers,
    wait_until_quiet,
)
from .servers import EventStream, JupyterServer
from .stats import Row, Sample, breakdown_line, paired_note, phases


def local_body(workers: int) -> dict[str, Any]:
    """The sidebar's launch of a local cluster: N worker processes of 1 thread each."""
    return {
        "backend": "local",
        "options": {"threads_per_worker": 1},
        "scaling": {"workers": workers},
    }


LAUNCH_BODY = local_body(2)


@dataclass
class Launch:
    """One launch under way: ``start`` just before the request, ``answered`` its answer
    (wall-clock, ``time.time()``); the launcher's cluster id and events mark, or
    dask-labextension's cluster model."""

    start: float
    answered: float
    cluster_id: str
    since: int = 0
    model: dict[str, Any] | None = None


@asynccontextmanager
async def launched_local(
    server: JupyterServer, stream: EventStream, workers: int
) -> AsyncIterator[Launch]:
    """``POST clusters`` for a local cluster of N workers (its 202 checked); ``DELETE`` after."""
    since = stream.mark()
    start = time.time()
    code, model = await server.request(
        "POST", "dask-cluster-launcher/clusters", local_body(workers)
    )
    answered = time.time()
    if code != 202:
        raise RuntimeError(f"POST clusters answered {code}: {model}")
    cluster_id = model["id"]
    try:
        yield Launch(start, answered, cluster_id, since)
    finally:
        code, body = await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
        if code != 204:
            raise RuntimeError(f"DELETE clusters/{cluster_id} answered {code}: {body}")


async def wait_shown(
    stream: EventStream, launch: Launch, workers: int
) -> tuple[float, float, dict[str, Any]]:
    """(arrival of the ``running`` event, of the event with N running workers, that event)."""
    running, _ = await stream.wait_for(
        cluster_event(launch.cluster_id, lambda m: m["state"] == "running"),
        launch.since,
        timeout=120,
    )
    shown, event = await stream.wait_for(
        cluster_event(launch.cluster_id, lambda m: running_workers(m) >= workers),
        launch.since,
        timeout=120,
    )
    return running, shown, event


async def launcher_once(
    server: JupyterServer, stream: EventStream, workers: int = 2
) -> dict[str, Any]:
    """One launch, from POST to the event with N running workers; then DELETE."""
    async with launched_local(server, stream, workers) as launch:
        running, shown, event = await wait_shown(stream, launch, workers)
        address = event["cluster"]["scheduler_address"]
        security = launcher_security(launch.cluster_id)
        joins, _ = await scheduler_record(address, launch.start, security)
    return phases(launch.start, shown, joins, answered=launch.answered, submitted=running)


@asynccontextmanager
async def labextension_launched(server: JupyterServer, workers: int) -> AsyncIterator[Launch]:
    """One ``PUT /dask/clusters`` (answers once the cluster and its workers are up, its factory
    makes N workers); ``DELETE`` after.

    Now and then it answers before its last worker has registered (``"workers"`` < N); its
    sidebar would show that worker at its next poll, 5 s later. The benchmarks then count it as
    shown when the scheduler added that worker, in its favour."""
    start = time.time()
    code, model = await server.request("PUT", "dask/clusters")
    answered = time.time()
    if code != 200 or not 0 <= model.get("workers", -1) <= workers:
        raise RuntimeError(f"PUT /dask/clusters answered {code}: {model}")
    try:
        yield Launch(start, answered, model["id"], model=model)
    finally:
        code, body = await server.request("DELETE", f"dask/clusters/{model['id']}")
        if code != 204:
            raise RuntimeError(f"DELETE /dask/clusters/{model['id']} answered {code}: {body}")


async def scheduler_record(
    address: str, after: float, security: Any = None, workers: int = 0
) -> tuple[list[float], float | None]:
    """When each worker joined from ``after`` on (once the scheduler has ``workers``), and the
    scheduler's own start time, read through a separate client."""
    client = await connect(address, security)
    try:
        if workers:
            await asyncio.wait_for(client.wait_for_workers(workers), 60)
        joins = await join_times(client, after)
        return joins, client.scheduler_info().get("started")
    finally:
        await client.close()


async def labextension_once(server: JupyterServer) -> dict[str, Any]:
    """One ``PUT /dask/clusters`` of 2 workers until they are shown; DELETE."""
    async with labextension_launched(server, 2) as launch:
        assert launch.model is not None
        joins, _ = await scheduler_record(
            launch.model["scheduler_address"], launch.start, workers=2
        )
    seen = max(launch.answered, joins[-1])
    return phases(launch.start, seen, joins, answered=launch.answered)


async def run(
    server: JupyterServer, stream: EventStream, repetitions: int
) -> tuple[list[Row], list[str]]:
    # One unmeasured launch each: the first cluster of a server process pays one-off imports.
    await launcher_once(server, stream)
    await labextension_once(server)
    ours: list[dict[str, Any]] = []
    labext: list[dict[str, Any]] = []
    for i in range(repetitions):
        order = ("launcher", "labext") if i % 2 == 0 else ("labext", "launcher")
        for who in order:
            await wait_until_quiet()
            if who == "launcher":
                ours.append(await launcher_once(server, stream))
            else:
                labext.append(await labextension_once(server))
        print(
            f"  launch rep {i + 1}: launcher 202 {ours[-1]['answered']:.3f} s, "
            f"2 workers on the WebSocket {ours[-1]['total']:.2f} s; "
            f"dask-labextension PUT {labext[-1]['total']:.2f} s",
            flush=True,
        )
    put = Sample([r["total"] for r in labext])
    rows = [
        Row(
            "Launch response, local cluster with 2 workers",
            Sample([r["answered"] for r in ours]),
            put,
            "dask-labextension `PUT /dask/clusters`",
            "the launcher answers 202 at once; dask-labextension answers when the cluster is up",
        ),
        Row(
            "Launch until 2 workers are shown, local",
            Sample([r["total"] for r in ours]),
            put,
            "dask-labextension `PUT` (its sidebar refreshes right after it)",
            "launcher: POST sent -> event with 2 running workers received on "
            "dask-cluster-launcher/events; "
            + paired_note([r["total"] for r in ours], [r["total"] for r in labext]),
        ),
    ]
    breakdown = [
        breakdown_line("Local 2, launcher", ours),
        breakdown_line("Local 2, dask-labextension", labext),
    ]
    return rows, breakdown
