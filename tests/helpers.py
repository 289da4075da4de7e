"""Small helpers shared by the test modules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_for(
    predicate: Callable[[], Awaitable[Any]], timeout: float = 60.0, interval: float = 0.1
) -> Any:
    """Poll an async predicate until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        await asyncio.sleep(interval)


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll a plain predicate until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def wait_cluster(
    api: Callable[..., Awaitable[Any]],
    cluster_id: str,
    predicate: Callable[[Any], Any],
    timeout: float = 120.0,
    interval: float = 0.1,
) -> Any:
    """Poll ``GET clusters/<id>`` (through ``api``, e.g. the ``launcher_api`` fixture) until
    ``predicate(model)`` holds; return the model. On failure, the message shows the last model."""
    last: list[Any] = [None]

    async def check() -> Any:
        _, last[0] = await api("clusters", cluster_id)
        return last[0] if predicate(last[0]) else None

    try:
        return await wait_for(check, timeout=timeout, interval=interval)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the cluster: {last[0]}") from None


def local_host_spec(tmp_path: Any, cluster_id: str, workers: int = 1) -> tuple[Any, Any]:
    """(the local backend, the spec of a host for a local cluster of ``workers`` thread
    workers), its private directory and records under ``tmp_path``."""
    from dask_cluster_launcher.backends import default_backends
    from dask_cluster_launcher.limits import Limits
    from dask_cluster_launcher.private import PrivateDir
    from dask_cluster_launcher.requests import LaunchPlan

    backend = default_backends()["local"]
    backend.private_dir = PrivateDir.at(tmp_path / "private")
    options = {"threads_per_worker": 1, "processes": False, "memory_limit": "auto"}
    plan = LaunchPlan(backend, options, {"workers": workers}, Limits())
    spec = plan.host_spec(
        cluster_id, cluster_id, records_dir=tmp_path / "records", grace_period=60.0,
        idle_timeout=0.0,
    )  # fmt: skip
    return backend, spec
