"""Clusters whose object this server holds: their schedulers run at a service (Saturn Cloud,
Dask Gateway) that the server talks to over its own secured channel. The server polls their
workers itself; nothing of them outlives it. (A scheduler someone else started is adopted from a
host process instead: ``Backend.runs_in_host``.)"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from .. import snippets
from ..backends import Backend
from ..backends.base import Discovered
from ..dashboard_urls import dashboard_link_template, proxied_dashboard_url
from .base import ClusterHandle, ClusterRow, Reports, scheduler_up, settle_state

log = logging.getLogger("dask_cluster_launcher.manager")


class InProcessHandle(ClusterHandle):
    """A cluster object in this process, made from the backend's ``cluster_kwargs``."""

    def __init__(
        self,
        row: ClusterRow,
        backend: Backend,
        reports: Reports,
        *,
        kwargs: dict[str, Any],
        start_timeout: float,
        poll_interval: float,
    ) -> None:
        super().__init__(row, backend, reports)
        self.kwargs = kwargs
        self.start_timeout = start_timeout
        self.poll_interval = poll_interval
        #: What the backend's ``scale``, ``workers``, ``close`` ... accept (None until started).
        self.cluster: Any = None

    @property
    def started(self) -> bool:
        return self.cluster is not None

    async def start(self) -> None:
        row = self.row
        self.cluster = await asyncio.wait_for(
            self.backend.start(self.kwargs, self._progress, None), self.start_timeout
        )
        await self.rescale(row.scaling)
        await self.backend.submitted(self.cluster)
        row.scheduler_address, row.dashboard_link = self.backend.addresses(self.cluster)
        row.messages = []  # what was said while starting is done with
        settle_state(row, self.backend)  # running once a worker joined
        self.reports.publish()

    def _progress(self, message: str) -> None:
        """What the resource manager said while starting (Saturn's status and warnings)."""
        if message and message not in self.row.messages:
            self.row.messages = [*self.row.messages, message][-10:]
            self.reports.publish()

    async def follow(self) -> None:
        """Poll the workers (a cluster that went away behind the launcher's back fails)."""
        while True:
            await asyncio.sleep(self.poll_interval)
            if not scheduler_up(self.row):
                if self.row.state in ("failed", "stopped"):
                    return
                continue
            reason = self.backend.lost(self.cluster)
            if reason:
                await self.reports.fail(reason)
                return
            try:
                workers = await self.backend.workers(self.cluster)
            except Exception:
                log.debug("Reading workers of %r failed", self.row.name, exc_info=True)
                continue
            before = self.row.state
            changed = self.row.worker_rows.replace(workers)
            settle_state(self.row, self.backend)
            if changed or self.row.state != before:
                self.reports.publish()

    async def rescale(self, scaling: dict[str, Any]) -> None:
        if "adapt" in scaling:
            adapt = scaling["adapt"]
            await self.backend.adapt(self.cluster, adapt["minimum"], adapt["maximum"])
        else:
            await self.backend.scale(self.cluster, scaling["workers"])
        self.row.scaling = scaling

    async def stop(self) -> None:
        if self.cluster is None:
            return
        try:
            await asyncio.wait_for(self.backend.close(self.cluster), 60)
        except Exception:
            log.warning("Closing cluster %r failed", self.row.name, exc_info=True)

    def client_code(self, base_url: str) -> str:
        code = self.backend.client_code(self.cluster, self.row.name)
        if code is not None:
            return code
        assert self.row.scheduler_address is not None
        on_this_machine = self.backend.dashboard_on_this_machine
        return snippets.client_code(
            self.row.scheduler_address,
            self.row.name,
            security=self.backend.client_security(self.cluster),
            dashboard_link=dashboard_link_template(base_url) if on_this_machine else None,
        )

    def dashboard_url(self, base_url: str) -> str | None:
        return proxied_dashboard_url(
            base_url, self.row.dashboard_link, self.backend.dashboard_on_this_machine
        )


class DiscoveredHandle(InProcessHandle):
    """A cluster of the user's that a service runs without this server (see
    ``Backend.discover``): already running when found; scaled and stopped like the others, but
    at server shutdown only let go."""

    external: ClassVar[bool] = True

    def __init__(
        self,
        row: ClusterRow,
        backend: Backend,
        reports: Reports,
        *,
        found: Discovered,
        poll_interval: float,
    ) -> None:
        super().__init__(
            row, backend, reports, kwargs={}, start_timeout=0.0, poll_interval=poll_interval
        )
        self.cluster = found.cluster

    async def start(self) -> None:
        """Running already."""

    @property
    def outlives_server(self) -> bool:
        return True

    async def let_go(self) -> None:
        try:
            await self.backend.disconnect(self.cluster)
        except Exception:
            log.debug("Letting go of %r failed", self.row.name, exc_info=True)
