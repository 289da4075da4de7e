"""The host's model and its watchers: a change is in the model at once, whatever a watcher is
doing (on a loaded machine each turn of the host's event loop can take a second)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.hosting.host import ClusterHost
from dask_cluster_launcher.limits import Limits
from dask_cluster_launcher.private import PrivateDir
from dask_cluster_launcher.requests import LaunchPlan


def a_host(tmp_path: Path) -> ClusterHost:
    """A host object with its model (no cluster started: the model is what is tested)."""
    backend = default_backends()["local"]
    backend.private_dir = PrivateDir.at(tmp_path / "private")
    options = {"threads_per_worker": 1, "processes": False, "memory_limit": "auto"}
    plan = LaunchPlan(backend, options, {"workers": 1}, Limits())
    spec = plan.host_spec(
        "watchtest01", "watch", records_dir=tmp_path / "records", grace_period=60.0,
        idle_timeout=0.0,
    )  # fmt: skip
    return ClusterHost(spec, backend)


def test_a_change_does_not_wait_for_a_watcher_holding_the_lock(tmp_path: Path):
    """A watcher woken by the previous change holds the lock until its answer is on its way;
    the next change goes into the model meanwhile (that answer carries it) and the watcher
    after it is woken once the lock is free."""

    async def scenario() -> None:
        host = a_host(tmp_path)
        version = host.model.version
        waiting = asyncio.ensure_future(host.watch(since=version, timeout=10.0))
        await asyncio.sleep(0)  # the watcher waits for a change
        async with host._changed:  # as a woken watcher does, until it answers
            await asyncio.wait_for(host._update(state="running"), timeout=2.0)
            assert host.model.version == version + 1
            assert not waiting.done()
        answer = await asyncio.wait_for(waiting, timeout=2.0)
        assert answer["version"] == version + 1
        assert answer["fields"] == {"state": "running"}

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
