"""The batch jobs of the manager's clusters: one batched query per backend and poll (``squeue``,
``qstat``), whichever process holds each cluster. Only changes are published."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .backends import Backend
from .launched import LaunchedCluster

log = logging.getLogger("dask_cluster_launcher.manager")


class JobWatcher:
    def __init__(
        self,
        backends: dict[str, Backend],
        clusters: Callable[[], list[LaunchedCluster]],
        publish: Callable[[LaunchedCluster], None],
        interval: float,
    ) -> None:
        self.backends = backends
        self.clusters = clusters
        self.publish = publish
        self.interval = interval

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()

    async def poll(self) -> None:
        by_backend: dict[str, list[LaunchedCluster]] = {}
        for launched in self.clusters():
            started = launched.handle is not None and launched.handle.started
            if started and launched.state in ("running", "stopping"):
                by_backend.setdefault(launched.backend.name, []).append(launched)
        for name, group in by_backend.items():
            try:
                jobs = await self.backends[name].poll_jobs([launched.id for launched in group])
            except Exception:
                log.warning("Polling %s jobs failed", name, exc_info=True)
                continue
            for launched in group:
                # one comparison per job; nothing is published when nothing changed
                if launched.job_rows.replace(jobs.get(launched.id, [])):
                    self.publish(launched)
