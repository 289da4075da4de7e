"""What the benchmarks observe: cluster events of one cluster, the scheduler's own record
of when workers joined (its ``add-worker`` events, stamped with this machine's wall clock),
and whether the machine is quiet before a run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _cpu_times() -> tuple[int, int]:
    """(busy, total) time of all CPUs since boot, in clock ticks (the first line of
    /proc/stat: user nice system idle iowait irq softirq steal ...)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


async def wait_until_quiet(
    threshold: float = 0.15, window: float = 0.5, timeout: float = 15.0
) -> float:
    """Wait until the CPUs were busy less than ``threshold`` of the time over one ``window``,
    at most ``timeout`` s, and return the seconds waited. Each run of either side starts on a
    quiet machine, not while the previous run's processes still exit or its background work
    goes on (the launcher's host forker warming up, a batch daemon's clean-up)."""
    t0 = time.monotonic()
    busy, total = _cpu_times()
    while time.monotonic() - t0 < timeout:
        await asyncio.sleep(window)
        busy_now, total_now = _cpu_times()
        share = (busy_now - busy) / max(1, total_now - total)
        if share < threshold:
            break
        busy, total = busy_now, total_now
    return time.monotonic() - t0


def running_workers(model: dict[str, Any]) -> int:
    return sum(1 for w in model.get("workers", []) if w.get("status") == "running")


def cluster_event(
    cluster_id: str, predicate: Callable[[dict[str, Any]], bool]
) -> Callable[[dict[str, Any]], bool]:
    """Predicate on events of one cluster; a failed launch raises instead of timing out."""

    def check(data: dict[str, Any]) -> bool:
        if data.get("cluster_id") != cluster_id:
            return False
        model = data.get("cluster") or {}
        if model.get("state") == "failed":
            raise RuntimeError(f"cluster {cluster_id} failed: {model.get('error')}")
        return bool(model) and predicate(model)

    return check


def launcher_security(cluster_id: str) -> Any:
    """The credentials of a cluster the launcher started (its private files, default place)."""
    from dask_cluster_launcher.private import PrivateDir

    return PrivateDir.at().cluster(cluster_id).security()


async def connect(address: str, security: Any = None) -> Any:
    """A separate ``distributed.Client`` on a scheduler (asynchronous, this event loop)."""
    from distributed import Client

    return await Client(address, asynchronous=True, timeout=30, security=security)


async def join_times(client: Any, after: float) -> list[float]:
    """Sorted times at which the scheduler added a worker, from ``after`` on."""
    events = await client.get_events("all")
    return sorted(
        t
        for t, msg in events
        if isinstance(msg, dict) and msg.get("action") == "add-worker" and t >= after
    )


async def scheduler_join_times(address: str, after: float, security: Any = None) -> list[float]:
    client = await connect(address, security)
    try:
        return await join_times(client, after)
    finally:
        await client.close()
