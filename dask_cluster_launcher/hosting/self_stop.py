"""When a cluster host stops its cluster by itself (see ``host``): nobody follows it any more
(its supervisor gone for the grace period and no client connected: a crashed Jupyter server
leaves nothing in the queue for long), or it has been idle for the site's idle timeout (no
client, no task: an idle cluster burns no allocation). Each runs as a task of the host for its
whole life."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from ..backends import Backend
from .records import HostSpec

log = logging.getLogger("dask_cluster_launcher.hosting.host")


class FollowedHost(Protocol):
    """What these read of a host (``host.ClusterHost``)."""

    spec: HostSpec
    backend: Backend
    cluster: Any
    #: watch calls in progress, and when the last one ended
    watchers: int
    last_watched: float

    @property
    def state(self) -> str: ...

    async def close(self, reason: str | None = None) -> None: ...


def _poll_interval(seconds: float) -> float:
    """How often to look, for a limit of ``seconds``: a quarter of it, between 0.1 and 5 s."""
    return min(5.0, max(seconds / 4, 0.1))


async def stop_when_abandoned(host: FollowedHost) -> None:
    """No supervisor watching and no client connected for the grace period: stop."""
    grace = host.spec.grace_period
    while True:
        await asyncio.sleep(_poll_interval(grace))
        if host.watchers or time.monotonic() - host.last_watched < grace:
            continue
        activity = await host.backend.activity(host.cluster)
        if activity is not None and activity.clients:
            host.last_watched = time.monotonic()
            continue
        log.warning("No supervisor for %.0f s and no client: stopping the cluster", grace)
        await host.close()
        return


async def stop_when_idle(host: FollowedHost) -> None:
    """No client connected and no task on the scheduler for ``idle_timeout`` seconds (a site
    setting, 0: never): stop, cancelling the jobs."""
    idle = host.spec.idle_timeout
    if not idle or idle <= 0:
        return
    busy_at = time.monotonic()
    while True:
        await asyncio.sleep(_poll_interval(idle))
        running = host.state == "running"
        activity = await host.backend.activity(host.cluster) if running else None
        # unknown (a scheduler that does not answer) counts as busy: never stop blindly
        if activity is None or activity.clients or activity.tasks:
            busy_at = time.monotonic()
            continue
        if time.monotonic() - busy_at >= idle:
            reason = f"stopped after {idle:g} s with no client and no task (idle timeout)"
            log.warning("The cluster %s", reason)
            await host.close(reason)
            return
