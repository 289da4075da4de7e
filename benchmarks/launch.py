"""Launch response time: the launcher's ``POST clusters`` (202 at once) against
dask-labextension's ``PUT /dask/clusters`` (answers once the cluster is up), same LocalCluster.

Also: launch until the 2 workers are visible to the user (the launcher's event on the events
WebSocket; dask-labextension's sidebar shows its cluster right after the PUT answers).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .observe import (
    cluster_event,
    connect,
    join_times,
    launcher_security,
    running_workers,
    scheduler_join_times,
    wait_until_quiet,
)
from .servers import EventStream, JupyterServer
from .stats import Row, Sample, breakdown_line, paired_note, phases

LAUNCH_BODY = {"backend": "local", "options": {"threads_per_worker": 1}, "scaling": {"workers": 2}}


async def launcher_once(server: JupyterServer, stream: EventStream) -> dict[str, Any]:
    """One launch, from POST to the event with 2 running workers; then DELETE."""
    since = stream.mark()
    start = time.time()
    code, model = await server.request("POST", "dask-cluster-launcher/clusters", LAUNCH_BODY)
    answered = time.time()
    if code != 202:
        raise RuntimeError(f"POST clusters answered {code}: {model}")
    cluster_id = model["id"]
    try:
        running, _ = await stream.wait_for(
            cluster_event(cluster_id, lambda m: m["state"] == "running"), since, timeout=120
        )
        seen, event = await stream.wait_for(
            cluster_event(cluster_id, lambda m: running_workers(m) >= 2), since, timeout=120
        )
        address = event["cluster"]["scheduler_address"]
        joins = await scheduler_join_times(address, start, launcher_security(cluster_id))
    finally:
        code, body = await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
        if code != 204:
            raise RuntimeError(f"DELETE clusters/{cluster_id} answered {code}: {body}")
    return phases(start, seen, joins, answered=answered, submitted=running)


async def labextension_once(server: JupyterServer) -> dict[str, Any]:
    """One ``PUT /dask/clusters`` (answers once the cluster and its workers are up); DELETE.

    Now and then it answers before its second worker has registered (``"workers": 1``); its
    sidebar would show that worker at its next poll, 5 s later. The baseline is then counted
    as done when the scheduler added that worker, in its favour."""
    start = time.time()
    code, model = await server.request("PUT", "dask/clusters")
    answered = time.time()
    if code != 200 or model.get("workers") not in (1, 2):
        raise RuntimeError(f"PUT /dask/clusters answered {code}: {model}")
    try:
        client = await connect(model["scheduler_address"])
        try:
            await asyncio.wait_for(client.wait_for_workers(2), 30)
            joins = await join_times(client, start)
        finally:
            await client.close()
    finally:
        code, body = await server.request("DELETE", f"dask/clusters/{model['id']}")
        if code != 204:
            raise RuntimeError(f"DELETE /dask/clusters/{model['id']} answered {code}: {body}")
    seen = max(answered, joins[-1])
    return phases(start, seen, joins, answered=answered)


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
