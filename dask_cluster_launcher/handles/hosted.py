"""Clusters in a host process of their own (see ``host``): the handle spawns the host (or takes
one over from its record), mirrors its model into the row, and stops or lets go of it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from .. import snippets
from ..backends import Backend
from ..changes import ClusterPatch
from ..dashboard_urls import private_dashboard_url
from ..errors import ConflictError, NotFound
from ..hosting.host_forker import HostForker
from ..hosting.processes import HostGone, HostProcess
from ..hosting.records import HostSpec
from ..private import ClusterFiles, checked_dashboard_socket
from .base import (
    ClusterHandle,
    ClusterRow,
    Reports,
    failure_reason,
    scheduler_up,
    settle_state,
)

log = logging.getLogger("dask_cluster_launcher.manager")

#: Unanswered watch calls in a row before a host that is still alive counts as lost.
WATCH_RETRIES = 10
#: The host's fields a row takes (its state is starting or running here; the handle reports
#: the others). The host's ``running`` means its scheduler is up: the row is running once a
#: worker joined (see ``settle_state``).
MIRRORED_FIELDS = frozenset(
    ("error", "scheduler_address", "dashboard_link", "messages", "scaling", "versions")
)


def apply_host_patch(
    row: ClusterRow, patch: ClusterPatch, host_state: str, backend: Backend
) -> bool:
    """Apply what changed in the host (whose state is ``host_state``) to the row; whether
    there is anything to publish (the worker rows of the host's patch go out as they came, so
    a change costs what changed)."""
    fields = patch.get("fields", {})
    for key in MIRRORED_FIELDS.intersection(fields):
        setattr(row, key, fields[key])
    if "workers" in patch:
        row.worker_rows.apply(patch["workers"])
    before = (row.state, row.phase)
    if host_state == "running":
        settle_state(row, backend)
    return bool(fields) or "workers" in patch or before != (row.state, row.phase)


class HostedHandle(ClusterHandle):
    """A cluster in its host process: started from ``spec`` (forked from ``forker`` when it
    runs the same Python), or followed from an existing ``host`` (reattached from its record)."""

    def __init__(
        self,
        row: ClusterRow,
        backend: Backend,
        reports: Reports,
        *,
        files: ClusterFiles,
        start_timeout: float,
        spec: HostSpec | None = None,
        host: HostProcess | None = None,
        forker: HostForker | None = None,
    ) -> None:
        super().__init__(row, backend, reports)
        self.files = files
        self.start_timeout = start_timeout
        self.spec = spec
        #: The host process (None until spawned).
        self.host = host
        self._forker = forker
        #: The host's start (see ``start``): it runs on when a stop cancels the start.
        self._spawning: asyncio.Future[HostProcess | None] | None = None
        self._start_cancelled = False

    @property
    def started(self) -> bool:
        return self.host is not None

    @property
    def outlives_server(self) -> bool:
        return self.host is not None

    async def start(self) -> None:
        if self.host is None:
            # a stop cancels this start but not its spawn: the thread writing the credentials
            # cannot be interrupted, and a host holding its spec is starting a cluster (killed,
            # it would leave its record and folders). ``stop`` waits for the spawn and frees
            # what it made.
            self._spawning = asyncio.ensure_future(self._spawn())
            try:
                host = await asyncio.shield(self._spawning)
            except asyncio.CancelledError:
                self._start_cancelled = True
                raise
            assert host is not None
            self.host = host

    async def _spawn(self) -> HostProcess | None:
        """The host process; None when the start was cancelled before a process took the spec
        (then only files were made)."""
        assert self.spec is not None
        log_path = Path(self.backend.private_dir.log_directory(self.row.id), "host.log")
        spec_path = await HostProcess.prepare(self.spec, self.files, log_path)
        if self._start_cancelled:
            return None
        return await HostProcess.launch(self.spec, spec_path, self.files, log_path, self._forker)

    async def _spawned(self) -> None:
        """Wait for a start that a stop cancelled: its host (if it got that far) is then here
        to be stopped or let go, and its files are all written."""
        spawning = self._spawning
        if self.host is None and spawning is not None:
            try:
                self.host = await spawning
            except Exception:
                log.warning("The host of %r did not start", self.row.name, exc_info=True)

    async def follow(self) -> None:
        """Mirror the host's state: each ``changes`` returns what changed in the host as soon
        as something did."""
        host, row = self.host, self.row
        assert host is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        unanswered = 0
        while True:
            timeout = 30.0
            # the start timeout is the scheduler's: jobs may then wait in a queue for hours
            if host.mirror.fields.get("state", "starting") == "starting":
                timeout = deadline - loop.time()
                if timeout <= 0:
                    raise asyncio.TimeoutError
            try:
                patch = await host.changes(timeout=min(timeout, 30.0))
                unanswered = 0
            except HostGone:
                # a busy machine can delay an answer: only a host that is gone is a failure
                unanswered += 1
                if await host.exited(0.5) or unanswered > WATCH_RETRIES:
                    raise
                continue
            if row.state == "stopping":
                return  # the owner stops the cluster now; never flip it back
            model = host.mirror.fields
            if model["state"] in ("stopping", "stopped") and not model["error"]:
                # its owner stopped it elsewhere (``make_cluster``'s object closed)
                self.reports.ended()
                return
            if model["state"] in ("failed", "stopping", "stopped"):
                # nobody here asked for this: the host gave up on its cluster
                await self.reports.fail(model["error"] or "the cluster stopped by itself")
                return
            if apply_host_patch(row, patch, model["state"], self.backend):
                self.reports.publish()

    async def report_failure(self, exc: Exception) -> None:
        if isinstance(exc, HostGone):
            log.warning("The host of cluster %r is gone: %s", self.row.name, exc)
            await self.reports.fail("the cluster's host process exited")
        else:
            log.warning("Cluster %r failed to start", self.row.name, exc_info=True)
            await self.reports.fail(failure_reason(exc))

    async def rescale(self, scaling: dict[str, Any]) -> None:
        if self.host is None:
            raise ConflictError(f"cluster {self.row.name!r} is {self.row.state}, not running")
        try:
            await self.host.rescale(scaling)
        except Exception as exc:
            raise ConflictError(f"cluster {self.row.name!r}: {failure_reason(exc)}") from None
        self.row.scaling = scaling

    async def stop(self) -> None:
        await self._spawned()
        if self.host is not None:
            await self.host.stop()  # the host closes the cluster and cancels its jobs
            try:
                await self.backend.reap_leftovers(self.row.id)  # in case the host was killed
            except Exception:
                log.warning("Cancelling the jobs of %r failed", self.row.name, exc_info=True)
        await asyncio.to_thread(self.files.remove)

    async def let_go(self) -> None:
        await self._spawned()
        if self.host is not None:
            await self.host.disconnect()

    def client_code(self, base_url: str) -> str:
        assert self.row.scheduler_address is not None
        if not self.backend.private_cluster:
            # a scheduler with its own security (an adopted one): what the host connected with
            assert self.host is not None
            return snippets.client_code(
                self.row.scheduler_address,
                self.row.name,
                security=self.host.mirror.fields.get("client_security"),
            )
        return snippets.client_code(
            self.row.scheduler_address,
            self.row.name,
            # paths to the owner's private files; no key material in the notebook
            security=self.files.security_kwargs(),
            dashboard_link=private_dashboard_url(base_url, self.row.id),
        )

    def connect_code(self, base_url: str) -> str | None:
        if not self.backend.private_cluster:
            # an adopted scheduler: `Client(address)` is short already, and it keeps working
            # after the launcher lets the scheduler go (its record goes with it)
            return None
        link = private_dashboard_url(base_url, self.row.id)
        return snippets.connect_code(self.row.id, self.row.name, dashboard_link=link)

    def dashboard_url(self, base_url: str) -> str | None:
        # served by this server from the cluster's private socket, when it is on this machine
        served_here = self.backend.dashboard_on_this_machine
        if scheduler_up(self.row) and served_here:
            return private_dashboard_url(base_url, self.row.id)
        return None

    def dashboard_socket(self) -> str:
        if not scheduler_up(self.row) or self.host is None:
            return super().dashboard_socket()
        if not self.backend.dashboard_on_this_machine:
            raise NotFound(
                f"cluster {self.row.name!r} has no dashboard here: its scheduler runs inside "
                "its batch job, where its HTTP routes are closed"
            )
        if self.host.dashboard_socket is None:
            return super().dashboard_socket()
        # its folder checked again on every request (a private folder of the user's)
        return checked_dashboard_socket(self.host.dashboard_socket)
