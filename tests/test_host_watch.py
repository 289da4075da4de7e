"""The host's model and its watchers: a change is in the model at once, whatever a watcher is
doing (on a loaded machine each turn of the host's event loop can take a second)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from dask_cluster_launcher.hosting.host import ClusterHost
from tests.helpers import local_host_spec


def a_host(tmp_path: Path) -> ClusterHost:
    """A host object with its model (no cluster started: the model is what is tested)."""
    backend, spec = local_host_spec(tmp_path, "watchtest01")
    return ClusterHost(spec, backend)


def done_at_once(coroutine: Coroutine[Any, Any, None]) -> bool:
    """Whether the coroutine finished without waiting for anything (one step)."""
    try:
        coroutine.send(None)
    except StopIteration:
        return True
    coroutine.close()
    return False


def test_a_change_never_waits_for_a_watcher(tmp_path: Path):
    """A supervisor watches again as soon as it has an answer; however far its watch call has
    got (waiting, woken, answering), the next change goes into the model at once, and the
    supervisor gets every change."""

    async def scenario() -> None:
        host = a_host(tmp_path)
        seen: list[int] = []

        async def supervisor() -> None:
            since = host.model.version
            while True:
                since = (await host.watch(since=since, timeout=10.0))["version"]
                seen.append(since)

        watching = asyncio.ensure_future(supervisor())
        for turn in range(20):
            await asyncio.sleep(0)  # the watch call moves on one step
            assert done_at_once(host._update(messages=[f"change {turn}"])), turn
        for _ in range(100):  # the last change reaches the supervisor
            if seen and seen[-1] == host.model.version:
                break
            await asyncio.sleep(0.01)
        watching.cancel()
        assert seen[-1] == host.model.version

    asyncio.run(scenario())


def test_an_unchanged_update_wakes_no_watcher(tmp_path: Path):
    async def scenario() -> None:
        host = a_host(tmp_path)
        await host._update(state="running")
        version = host.model.version
        waiting = asyncio.ensure_future(host.watch(since=version, timeout=10.0))
        await asyncio.sleep(0)
        await host._update(state="running")
        await asyncio.sleep(0.05)
        assert host.model.version == version and not waiting.done()
        waiting.cancel()

    asyncio.run(scenario())
