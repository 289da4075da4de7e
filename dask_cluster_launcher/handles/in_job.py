"""Clusters whose host process runs inside a batch job of its own (``scheduler_placement:
own_job``, see ``hosting.job_host``): the handle submits the host's job, waits for the host's
record (written in the records directory once its control server listens on the compute
node), then follows it over TLS as a host beside Jupyter. A stop, and the job's end, leave no
job behind: the scheduler's job has the workers' name and is cancelled with them.

Its dashboard is relayed from a private socket of this server's, piped over mutual TLS to
the host's listener on the node (``hosting.dashboard_tunnel``): opened on the first request,
closed when the cluster stops, ends or is let go."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ..hosting import job_host
from ..hosting.dashboard_tunnel import DashboardRelay
from ..hosting.processes import HostGone, HostProcess
from ..hosting.records import Record
from ..private import checked_dashboard_socket
from .base import STARTING_SCHEDULER, scheduler_up
from .hosted import HostedHandle

log = logging.getLogger("dask_cluster_launcher.manager")


class JobHostedHandle(HostedHandle):
    """A cluster whose host is the batch job ``job_id`` (submitted here by ``start``, or read
    from the record of a host taken back)."""

    def __init__(self, *args: object, job_id: str | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        #: The scheduler's batch job (None until submitted).
        self.job_id = job_id
        #: The dashboard's relay to the node (None until the dashboard is first asked for).
        self._relay: DashboardRelay | None = None

    @property
    def scheduler_job(self) -> str | None:
        return self.job_id

    @classmethod
    def taken_back(cls, *args: object, record: Record, **kwargs: object) -> JobHostedHandle:
        files = kwargs["files"]
        host = HostProcess.attach(record, files)  # type: ignore[arg-type]
        return cls(*args, host=host, job_id=record.batch_job_id, **kwargs)

    async def start(self) -> None:
        if self.host is not None:
            return
        # the files and the submission run on when a stop cancels the start (see
        # ``HostedHandle.start``): the stop then knows every file and the job to cancel
        self._spawning = asyncio.ensure_future(self._submit())
        try:
            await asyncio.shield(self._spawning)
        except asyncio.CancelledError:
            self._start_cancelled = True
            raise
        # the job may wait in the queue for hours: a stop cancels this wait, and the job
        self.host = await self._wait_for_record()

    async def _submit(self) -> HostProcess | None:
        """Write the credentials and spec, submit the host's job; no host yet (None)."""
        assert self.spec is not None
        log_path = Path(self.backend.private_dir.log_directory(self.row.id), "host.log")
        spec_path = await HostProcess.prepare(self.spec, self.files, log_path)
        if self._start_cancelled:
            return None
        self.job_id = await job_host.submit_host_job(
            self.backend, self.spec.kwargs, self.spec, spec_path, self.files
        )
        self.row.phase = f"{STARTING_SCHEDULER} in batch job {self.job_id}"
        self.reports.publish()
        return None

    async def _wait_for_record(self) -> HostProcess:
        assert self.spec is not None and self.job_id is not None
        return await job_host.wait_for_host(
            self.backend, self.spec, self.job_id, self.files, self._say_phase
        )

    def _say_phase(self, phase: str) -> None:
        if phase != self.row.phase:
            self.row.phase = phase
            self.reports.publish()

    async def report_failure(self, exc: Exception) -> None:
        if isinstance(exc, HostGone) and self.job_id is not None:
            log.warning("The scheduler's job of %r is gone: %s", self.row.name, exc)
            logs = self.backend.private_dir.log_directory(self.row.id)
            await self.reports.fail(
                f"the scheduler's batch job {self.job_id} ended (its walltime ran out, it was "
                f"cancelled, or its host failed: see {logs})"
            )
        else:
            await super().report_failure(exc)

    def dashboard_socket(self) -> str:
        host = self.host
        if not scheduler_up(self.row) or host is None or host.dashboard_address is None:
            return super().dashboard_socket()  # a host of an older version: its own socket
        if self._relay is None:
            self._relay = DashboardRelay(host.dashboard_address, self.files)
        # its folder checked again on every request, as a host's
        return checked_dashboard_socket(self._relay.open())

    async def _close_relay(self) -> None:
        relay, self._relay = self._relay, None
        if relay is not None:
            await relay.close()

    async def run(self) -> None:
        try:
            await super().run()
        finally:  # the cluster ended, failed, or is stopped or let go (its task cancelled)
            await self._close_relay()

    async def let_go(self) -> None:
        await self._close_relay()
        await super().let_go()

    async def stop(self) -> None:
        await self._close_relay()
        await super().stop()
        # the scheduler's job too, when its host never answered (still queued, or killed)
        try:
            await self.backend.reap_leftovers(self.row.id)
        except Exception:
            log.warning("Cancelling the jobs of %r failed", self.row.name, exc_info=True)
