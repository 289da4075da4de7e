"""What the benchmarks observe: cluster events of one cluster, and the scheduler's own record
of when workers joined (its ``add-worker`` events, stamped with this machine's wall clock)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
