"""Watching the clusters of a ClusterManager: their workers (clusters the server holds itself),
their batch jobs (one batched query per backend and poll), the records of clusters started
elsewhere and the clusters a service (Dask Gateway) keeps. Only changes are published."""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from .backends import Backend
from .hosts import SpareHost
from .launched import LaunchedCluster

log = logging.getLogger("dask_cluster_launcher.manager")


class ClusterWatching:
    """Mixed into ClusterManager, which provides these attributes and methods."""

    backends: dict[str, Backend]
    worker_poll_interval: float
    job_poll_interval: float
    _watchers: builtins.list[asyncio.Task[None]]
    list: Callable[[], builtins.list[LaunchedCluster]]
    _publish: Callable[[LaunchedCluster], None]
    _spare_host: Callable[[Backend], SpareHost | None]
    _adopt_new_records: Callable[[], Coroutine[Any, Any, None]]
    _discover_clusters: Callable[[], Coroutine[Any, Any, None]]

    async def _fail(self, launched: LaunchedCluster, reason: str) -> None:
        raise NotImplementedError

    def start_watchers(self) -> None:
        """Watch from now on, with or without clusters (the server's start): clusters started
        elsewhere (a notebook's ``quick_connect``) then appear within a second. A spare host
        process gets ready for the first launch."""
        self._ensure_watchers()
        for backend in self.backends.values():
            spare = self._spare_host(backend) if backend.private_cluster else None
            if spare is not None:
                spare.refill()

    def _ensure_watchers(self) -> None:
        if not self._watchers:
            self._watchers = [
                asyncio.create_task(self._watch_workers()),
                asyncio.create_task(self._watch_jobs()),
                asyncio.create_task(self._adopt_new_records()),
                asyncio.create_task(self._discover_clusters()),
            ]

    async def _watch_workers(self) -> None:
        while True:
            await asyncio.sleep(self.worker_poll_interval)
            for launched in self.list():
                if launched.state != "running" or launched.cluster is None or launched.files:
                    continue  # hosted clusters report their workers themselves
                reason = launched.backend.lost(launched.cluster)
                if reason:
                    await self._fail(launched, reason)
                    continue
                try:
                    workers = await launched.backend.workers(launched.cluster)
                except Exception:
                    log.debug("Reading workers of %r failed", launched.name, exc_info=True)
                    continue
                if launched.worker_rows.replace(workers):
                    self._publish(launched)

    async def _watch_jobs(self) -> None:
        while True:
            await asyncio.sleep(self.job_poll_interval)
            by_backend: dict[str, list[LaunchedCluster]] = {}
            for launched in self.list():
                if launched.cluster is not None and launched.state in ("running", "stopping"):
                    by_backend.setdefault(launched.backend.name, []).append(launched)
            for name, group in by_backend.items():
                try:
                    jobs = await self.backends[name].poll_jobs(group)
                except Exception:
                    log.warning("Polling %s jobs failed", name, exc_info=True)
                    continue
                for launched in group:
                    # one comparison per job; nothing is published when nothing changed
                    if launched.job_rows.replace(jobs.get(launched.id, [])):
                        self._publish(launched)
