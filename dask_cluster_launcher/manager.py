"""ClusterManager: the registry of the clusters this server holds, and its policy.

``starting -> running -> stopping -> stopped`` (then forgotten), or ``failed`` with the reason;
a cluster that asks for workers is ``starting`` until its first worker joins.
Launching returns at once: the request is resolved, a row registered as ``starting``, and the
cluster's handle (see ``handles``: where it runs) started in a background task. The handle
reports changes, which the ``Publisher`` sends to the sidebar within a second. Collaborators
with their own state do the rest: the ``HostPool`` (host forkers, records to take back), the
``JobWatcher`` (batched batch-job polls) and ``Discovery`` (clusters made elsewhere).
Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .backends import Backend
from .backends.base import Discovered
from .backends.batch.allocation import is_allocation
from .discovery import Discovery
from .errors import ConflictError, NotFound
from .handles import (
    ClusterHandle,
    DiscoveredHandle,
    HostedHandle,
    InProcessHandle,
    Reports,
    runs_in_host,
)
from .handles.base import scheduler_up
from .handles.in_allocation import AllocationHandle
from .handles.in_job import JobHostedHandle
from .hosting.job_host import in_own_job
from .hosting.processes import HostProcess
from .hosting.records import Record, default_records_dir
from .job_logs import read_tails, valid_job_id
from .launched import (
    LaunchedCluster,
    proxied_dashboard_url,  # noqa: F401  (imported from here by users of the manager)
)
from .limits import Limits
from .notebook_code import NotebookCode, notebook_code
from .private import PrivateDir
from .profiles import ProfileStore
from .publishing import ChangeCallback, Publisher
from .requests import LaunchPlan, RequestResolver, check_scaling
from .supervision import HostPool
from .watching import JobWatcher

log = logging.getLogger(__name__)

#: States of a cluster that counts against the site's ``max_clusters``.
_ALIVE = ("starting", "running")


class ClusterManager:
    def __init__(
        self,
        backends: dict[str, Backend],
        profiles: ProfileStore,
        on_change: ChangeCallback | None = None,
        *,
        base_url: str = "/",
        start_timeout: float = 300.0,
        worker_poll_interval: float = 0.2,
        job_poll_interval: float = 1.0,
        records_dir: Path | None = None,
        grace_period: float = 600.0,
        kernel_spec_manager: Any = None,
        limits: dict[str, Limits] | None = None,
        idle_timeout: float = 0.0,
        host_forker: bool = True,
    ) -> None:
        self.backends = backends
        self.profiles = profiles
        #: Requests resolved into launch plans (profiles, schemas, locks, limits, kernels)
        self.requests = RequestResolver(backends, profiles, limits, kernel_spec_manager)
        self.base_url = base_url
        self.start_timeout = start_timeout
        self.worker_poll_interval = worker_poll_interval
        self.records_dir = records_dir or default_records_dir()
        self.grace_period = grace_period
        #: jupyter_client's KernelSpecManager, to run clusters with a kernel's Python
        self.kernel_spec_manager = kernel_spec_manager
        #: the site's limits per backend name (see ``limits``)
        self.limits = limits or {}
        #: seconds a hosted cluster with no client and no task waits before stopping (0: never)
        self.idle_timeout = idle_timeout
        self._clusters: dict[str, LaunchedCluster] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._counter = 0
        self.publisher = Publisher(on_change, base_url)
        self.hosts = HostPool(backends, self.records_dir, host_forker)
        self.jobs = JobWatcher(
            backends, self.list, self._publish, job_poll_interval, fail=self._fail_start
        )
        self.discovery = Discovery(backends, self._adopt_discovered)

    # --- queries ------------------------------------------------------------------------------
    def list(self) -> list[LaunchedCluster]:
        return list(self._clusters.values())

    def get(self, cluster_id: str) -> LaunchedCluster:
        try:
            return self._clusters[cluster_id]
        except KeyError:
            raise NotFound(f"no cluster with id {cluster_id!r}") from None

    async def describe_backends(self) -> builtins.list[dict[str, Any]]:
        """Every backend with its form (showing the site's limits); the sites are asked
        concurrently."""
        described = await asyncio.gather(*(b.describe() for b in self.backends.values()))
        for description in described:
            self.limits_for(description["name"]).annotate(description["schema"])
        return list(described)

    def limits_for(self, backend_name: str) -> Limits:
        return self.requests.limits_for(backend_name)

    def dashboard_socket(self, cluster_id: str) -> str:
        """The Unix socket of a running private cluster's dashboard."""
        launched = self.get(cluster_id)
        if launched.handle is None:
            raise NotFound(f"cluster {launched.name!r} has no dashboard served by this server")
        return launched.handle.dashboard_socket()

    async def notebook_code(self, cluster_id: str, kernel: str | None = None) -> NotebookCode:
        """The client code for a notebook on ``kernel``: explicit and short forms, warning."""
        launched = self.get(cluster_id)
        return await notebook_code(launched, self.base_url, self.kernel_spec_manager, kernel)

    def model(self, launched: LaunchedCluster) -> dict[str, Any]:
        """The whole cluster, as the REST API returns it and the first event carries it."""
        return self.publisher.model(launched)

    async def job_log(self, cluster_id: str, job_id: str, limit: int = 64 * 1024) -> dict[str, Any]:
        """The tail of a batch job's output files, for reading why a worker did not start."""
        launched = self.get(cluster_id)
        paths = (
            launched.backend.job_log_files(launched.kwargs, job_id) if valid_job_id(job_id) else []
        )
        if not paths:
            raise NotFound(f"cluster {launched.name!r} has no batch job {job_id!r}")
        files = await asyncio.to_thread(read_tails, paths, limit)
        return {"job_id": job_id, "files": files}

    async def preview(self, request: dict[str, Any]) -> dict[str, Any]:
        return await (await self.requests.resolve(request)).preview_with_estimate()

    # --- lifecycle ------------------------------------------------------------------------------
    async def launch(self, request: dict[str, Any]) -> LaunchedCluster:
        """Validate, register the cluster as ``starting`` and start it in the background."""
        plan = await self.requests.resolve(request)
        backend = plan.backend
        running = [c for c in self.list() if c.backend is backend and c.state in _ALIVE]
        plan.limits.check_clusters(len(running), backend.title)
        plan = await self.requests.with_kernel(plan, request.get("kernel"))
        self._counter += 1
        cluster_id = uuid.uuid4().hex[:12]
        name = plan.name or f"{backend.title} {self._counter}"
        launched = LaunchedCluster(
            kernel=plan.kernel.kernel if plan.kernel else None,
            python=plan.kernel.python if plan.kernel else None,
            id=cluster_id,
            name=name,
            backend=backend,
            options=plan.options,
            kwargs=plan.cluster_kwargs(cluster_id, name),
            scaling=plan.scaling,
            profile=plan.profile,
        )
        self._start(launched, self._new_handle(launched, plan))
        return launched

    def _new_handle(self, launched: LaunchedCluster, plan: LaunchPlan) -> ClusterHandle:
        backend, reports = plan.backend, self._reports(launched)
        if not plan.hosted:
            return InProcessHandle(
                launched,
                backend,
                reports,
                kwargs=launched.kwargs,
                start_timeout=self.start_timeout,
                poll_interval=self.worker_poll_interval,
            )
        spec = plan.host_spec(
            launched.id,
            launched.name,
            records_dir=self.records_dir,
            grace_period=self.grace_period,
            idle_timeout=self.idle_timeout,
            kwargs=launched.kwargs,
            created=launched.created,
        )
        files = backend.private_dir.cluster(launched.id)
        if in_own_job(plan.options):  # the host is submitted as a batch job of its own
            return JobHostedHandle(
                launched, backend, reports, files=files, start_timeout=self.start_timeout, spec=spec
            )
        # the scheduler in the cluster's one job, or beside Jupyter in the host
        hosted = AllocationHandle if is_allocation(launched.kwargs) else HostedHandle
        return hosted(
            launched,
            backend,
            reports,
            files=files,
            start_timeout=self.start_timeout,
            spec=spec,
            forker=self.hosts.forker_for(backend),
        )

    def _start(self, launched: LaunchedCluster, handle: ClusterHandle) -> None:
        """List the cluster and run its handle."""
        launched.handle = handle
        self._clusters[launched.id] = launched
        self._ensure_watchers()
        launched.task = asyncio.create_task(handle.run())
        self._publish(launched)

    def _reports(self, launched: LaunchedCluster) -> Reports:
        async def fail(reason: str) -> None:
            await self._fail(launched, reason)

        def ended() -> None:
            self.hosts.let_go.add(launched.id)
            self.jobs.usage.settle_later(launched)
            self._unlist(launched)

        return Reports(publish=lambda: self._publish(launched), fail=fail, ended=ended)

    async def _fail(self, launched: LaunchedCluster, reason: str) -> None:
        """Mark a cluster failed and free what is left of it (jobs, processes)."""
        launched.state = "failed"
        launched.error = reason
        launched.workers = []
        self._publish(launched)
        await self._close_quietly(launched)
        await self.jobs.usage.settle(launched)  # what its jobs used, in the user's usage log
        self._publish(launched)

    async def _fail_start(self, launched: LaunchedCluster, reason: str) -> None:
        """Its batch jobs all ended before a worker joined (see ``job_starts``): stop
        following it (its host is stopped next, which must not read as a stop by its owner),
        then fail it."""
        if launched.state not in _ALIVE:
            return
        if launched.task is not None and not launched.task.done():
            launched.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await launched.task
        await self._fail(launched, reason)

    async def rescale(self, cluster_id: str, scaling: dict[str, Any]) -> LaunchedCluster:
        launched = self.get(cluster_id)
        check_scaling(scaling, "")
        self.limits_for(launched.backend.name).check_scaling(scaling, "")
        if not scheduler_up(launched) or launched.handle is None:
            raise ConflictError(f"cluster {launched.name!r} is {launched.state}, not running")
        await launched.handle.rescale(scaling)
        self._publish(launched)
        return launched

    async def stop(self, cluster_id: str) -> None:
        """Stop a cluster, free its workers and jobs, and forget it."""
        launched = self.get(cluster_id)
        if launched.state == "stopping":
            raise ConflictError(f"cluster {launched.name!r} is already stopping")
        self.hosts.let_go.add(cluster_id)  # its record lingers until its host exits
        launched.state = "stopping"
        self._publish(launched)
        if launched.task is not None and not launched.task.done():
            launched.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await launched.task
        await self._close_quietly(launched)
        await self.jobs.usage.settle(launched)  # the stop's notice says what it used
        self._publish(launched)
        launched.state = "stopped"
        self._unlist(launched)

    async def close_all(self, keep_running: bool = False) -> None:
        """Stop every cluster (server shutdown): no process and no batch job left behind.

        Clusters made elsewhere (``external``) are only let go, and no more are taken in. With
        ``keep_running``, clusters in host processes are let go too: their hosts keep them
        (and their records) for the next server, or stop after their grace period.
        """
        self.discovery.closing = self.hosts.closing = True
        for launched in self.list():
            handle = launched.handle
            if handle is not None and (
                handle.external or (keep_running and handle.outlives_server)
            ):
                self.hosts.let_go.add(launched.id)
                if launched.task is not None:
                    launched.task.cancel()
                await handle.let_go()
                self._clusters.pop(launched.id, None)
                self.publisher.forget(launched.id)
        await asyncio.gather(
            *(self.stop(c.id) for c in self.list() if c.state != "stopping"),
            return_exceptions=True,
        )
        for watcher in self._watchers:
            watcher.cancel()
        self._watchers.clear()
        await self.hosts.close()
        for backend in self.backends.values():  # last: their connections to their services
            with contextlib.suppress(Exception):
                await backend.close_connections()

    async def _close_quietly(self, launched: LaunchedCluster) -> None:
        if launched.handle is not None:
            try:
                await launched.handle.stop()
            except Exception:
                log.warning("Stopping cluster %r failed", launched.name, exc_info=True)

    # --- publishing -----------------------------------------------------------------------------
    def _publish(self, launched: LaunchedCluster) -> None:
        if launched.id in self._clusters:  # (a cluster already forgotten says nothing more)
            self.publisher.publish(launched)

    def _unlist(self, launched: LaunchedCluster) -> None:
        """The cluster leaves the sidebar (stopped)."""
        self._clusters.pop(launched.id, None)
        self.publisher.removed(launched.id)

    # --- watching and taking clusters in --------------------------------------------------------
    def start_watchers(self) -> None:
        """Watch from now on, with or without clusters (the server's start): clusters started
        elsewhere (a notebook's ``quick_connect``) then appear within a second. The host forker
        gets ready for the first launch."""
        self._ensure_watchers()
        self.hosts.warm(b for b in self.backends.values() if runs_in_host(b))

    def _ensure_watchers(self) -> None:
        if not self._watchers:
            self._watchers = [
                asyncio.create_task(self.jobs.run()),
                asyncio.create_task(self.hosts.watch_records(self._clusters.keys, self.reattach)),
                asyncio.create_task(self.discovery.run()),
            ]

    async def reattach(self, ids: Iterable[str] | None = None) -> None:
        """Take back the clusters whose hosts outlived a previous server or were started
        elsewhere (``quick_connect``), from their records (all, or those of ``ids``); clean up
        after hosts that died, cancelling their leftover batch jobs."""
        for record in await self.hosts.live_records(ids, self._clusters.keys()):
            self._take_back(record)

    def _take_back(self, record: Record) -> None:
        spec = record.spec
        launched = LaunchedCluster(
            id=spec.cluster_id,
            name=spec.name,
            backend=self.backends[spec.backend],
            options=spec.options,
            kwargs=spec.kwargs,
            scaling=spec.scaling,
            profile=spec.profile,
            created=spec.created,
        )
        files = PrivateDir.at(spec.private_root).cluster(spec.cluster_id)
        handle: HostedHandle
        if record.batch_job_id is not None:  # a host inside a batch job of its own
            handle = JobHostedHandle.taken_back(
                launched,
                launched.backend,
                self._reports(launched),
                record=record,
                files=files,
                start_timeout=self.start_timeout,
            )
        else:
            hosted = AllocationHandle if is_allocation(spec.kwargs) else HostedHandle
            handle = hosted(
                launched,
                launched.backend,
                self._reports(launched),
                files=files,
                start_timeout=self.start_timeout,
                host=HostProcess.attach(record, files),
            )
        launched.handle = handle
        self._clusters[launched.id] = launched
        self._ensure_watchers()
        launched.task = asyncio.create_task(handle.run())
        log.info("Took back cluster %r (%s) from its record", spec.name, spec.cluster_id)

    async def _adopt_discovered(self, backend: Backend, found: Discovered) -> None:
        cluster_id = f"{backend.name}-{found.key}"
        known = self._clusters.get(cluster_id)
        if known is not None and known.state != "failed":  # a failed card is replaced
            await backend.disconnect(found.cluster)
            return
        scheduler_address, dashboard_link = backend.addresses(found.cluster)
        launched = LaunchedCluster(
            id=cluster_id,
            name=found.name,
            backend=backend,
            options=found.options,
            kwargs={},
            scaling=found.scaling,
            state="running",
            scheduler_address=scheduler_address,
            dashboard_link=dashboard_link,
            created=found.created or datetime.now(timezone.utc).isoformat(),
        )
        log.info("Found %s cluster %r, not started here", backend.title, found.name)
        handle = DiscoveredHandle(
            launched,
            backend,
            self._reports(launched),
            found=found,
            poll_interval=self.worker_poll_interval,
        )
        self._start(launched, handle)
