"""ClusterManager: the lifecycle of the clusters this server launched.

``starting -> running -> stopping -> stopped`` (then forgotten), or ``failed`` with the reason.
Launching returns at once; the cluster starts in a background task. Every change (state,
workers, batch jobs) is published through ``on_change`` so the sidebar sees it within a second.
Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import dataclasses
import functools
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

from . import schemas, snippets
from .backends import Backend
from .errors import ConflictError, InvalidRequest, NotFound
from .hosts import HostProcess, SpareHost
from .kernels import KernelPython, kernel_python, mismatches
from .launched import (
    LaunchedCluster,
    dashboard_link_template,
    failure_reason,
    private_dashboard_url,
    proxied_dashboard_url,  # noqa: F401  (imported from here by users of the manager)
)
from .limits import Limits, check_locks
from .profiles import ProfileStore
from .publishing import ChangeCallback, ClusterPublishing
from .records import HostSpec, default_records_dir
from .supervision import HostSupervision
from .watching import ClusterWatching

log = logging.getLogger(__name__)

#: States of a cluster that counts against the site's ``max_clusters``.
_ALIVE = ("starting", "running")


def with_host_settings(spec: HostSpec, backend: Backend, idle_timeout: float) -> HostSpec:
    """A host spec with the server settings its host applies itself: the idle timeout and the
    batch command prefix (the host runs dask-jobqueue's commands)."""
    prefix = list(getattr(backend, "command_prefix", ()))
    return dataclasses.replace(spec, idle_timeout=idle_timeout, command_prefix=prefix)


class ClusterManager(HostSupervision, ClusterPublishing, ClusterWatching):
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
        spare_host: bool = True,
    ) -> None:
        self.backends = backends
        self.profiles = profiles
        self.base_url = base_url
        self.start_timeout = start_timeout
        self.worker_poll_interval = worker_poll_interval
        self.job_poll_interval = job_poll_interval
        self.records_dir = records_dir or default_records_dir()
        self.grace_period = grace_period
        #: jupyter_client's KernelSpecManager, to run clusters with a kernel's Python
        self.kernel_spec_manager = kernel_spec_manager
        #: the site's limits per backend name (see ``limits``)
        self.limits = limits or {}
        #: seconds a hosted cluster with no client and no task waits before stopping (0: never)
        self.idle_timeout = idle_timeout
        self._on_change = on_change
        self._clusters: dict[str, LaunchedCluster] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._let_go: set[str] = set()
        self._discovered: set[str] = set()  # found at a service (Gateway), not started here
        self._published: dict[str, dict[str, Any]] = {}  # fields the sidebar was last told
        self._spares: dict[Path, SpareHost] = {}  # one host process ready per private dir
        self.spare_host = spare_host
        self._counter = 0

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
        return self.limits.get(backend_name) or Limits()

    def dashboard_socket(self, cluster_id: str) -> str:
        """The Unix socket of a running private cluster's dashboard."""
        launched = self.get(cluster_id)
        if launched.files is None or launched.state != "running":
            raise NotFound(f"cluster {launched.name!r} has no dashboard served by this server")
        return str(launched.files.dashboard_socket)

    def snippet(self, cluster_id: str) -> str:
        launched = self.get(cluster_id)
        if launched.state != "running" or not launched.scheduler_address:
            raise ConflictError(f"cluster {launched.name!r} is {launched.state}, not running")
        backend = launched.backend
        code = backend.client_code(launched.cluster, launched.name)
        if code is not None:
            return code
        if launched.files is not None:
            # paths to the owner's private files; no key material in the notebook
            security: dict[str, str] | None = launched.files.security_kwargs()
            dashboard_link: str | None = private_dashboard_url(self.base_url, launched.id)
        else:
            security = backend.client_security(launched.cluster)
            dashboard_link = (
                dashboard_link_template(self.base_url)
                if backend.dashboard_on_this_machine
                else None
            )
        return snippets.client_code(
            launched.scheduler_address,
            launched.name,
            security=security,
            dashboard_link=dashboard_link,
        )

    async def version_warning(self, cluster_id: str, kernel: str | None) -> str | None:
        """Why a notebook on ``kernel`` may not work with this cluster (versions that differ,
        as distributed would complain at connect time), or None."""
        launched = self.get(cluster_id)
        if not kernel or not launched.versions or self.kernel_spec_manager is None:
            return None
        try:
            notebook = await kernel_python(self.kernel_spec_manager, kernel)
        except InvalidRequest as exc:  # the code is still inserted: say why it may not run
            reason = exc.message.removeprefix("kernel: ")
            return f"The kernel {kernel!r} may not run this code: {reason}."
        different = mismatches(launched.versions, notebook.versions)
        if not different:
            return None
        return (
            f"The kernel {kernel!r} differs from the cluster: {'; '.join(different)}. "
            "Launch the cluster with this notebook's kernel to match."
        )

    async def job_log(self, cluster_id: str, job_id: str, limit: int = 64 * 1024) -> dict[str, Any]:
        """The tail of a batch job's output files, for reading why a worker did not start."""
        launched = self.get(cluster_id)
        paths = launched.backend.job_log_files(launched.kwargs, job_id)
        if not paths or not job_id.isdigit():
            raise NotFound(f"cluster {launched.name!r} has no batch job {job_id!r}")
        files = await asyncio.to_thread(_tails, paths, limit)
        return {"job_id": job_id, "files": files}

    # --- resolving requests ---------------------------------------------------------------------
    def backend(self, name: str) -> Backend:
        backend = self.backends.get(name)
        if backend is None:
            known = ", ".join(sorted(self.backends))
            raise InvalidRequest(f"backend: unknown backend {name!r} (known: {known})", "backend")
        reason = backend.unavailable_reason()
        if reason:
            raise InvalidRequest(f"backend: {backend.title} is not available: {reason}", "backend")
        return backend

    async def resolve(
        self, request: dict[str, Any]
    ) -> tuple[Backend, dict[str, Any], dict[str, Any]]:
        """(backend, validated options, scaling) for a launch or preview request."""
        options: dict[str, Any] = {}
        scaling: dict[str, Any] = {"workers": 1}
        if "profile" in request:
            # profiles are files: read them off the event loop
            profile = await asyncio.to_thread(self.profiles.get, request["profile"])
            backend = self.backend(profile.backend)
            options.update(profile.options)
            scaling = profile.scaling
        else:
            backend = self.backend(request["backend"])
        options.update(request.get("options") or {})
        scaling = copy.deepcopy(request.get("scaling") or scaling)
        check_scaling(scaling, "scaling")
        backend.check_scaling(scaling, "scaling")
        validated = await backend.validate(options)
        if "profile" in request and profile.locked:
            fixed = {**backend.defaults(), **profile.options}
            check_locks(profile.name, profile.locked, fixed, request.get("options") or {})
        limits = self.limits_for(backend.name)
        limits.check_options(validated)
        limits.check_scaling(scaling)
        return backend, validated, scaling

    async def preview(self, request: dict[str, Any]) -> dict[str, Any]:
        backend, options, scaling = await self.resolve(request)
        kwargs = backend.cluster_kwargs(options, cluster_id="preview", cluster_name="preview")
        # the paths the real cluster's credentials will have; nothing is written for a preview
        files = backend.private_dir.cluster("<cluster-id>")
        return {
            "code": snippets.reproduce_code(backend.cluster_class_path, kwargs, scaling),
            "job_script": backend.job_script(backend.with_credentials(kwargs, files)),
        }

    # --- lifecycle ------------------------------------------------------------------------------
    async def launch(self, request: dict[str, Any]) -> LaunchedCluster:
        """Validate, register the cluster as ``starting`` and start it in the background."""
        backend, options, scaling = await self.resolve(request)
        running = [c for c in self.list() if c.backend is backend and c.state in _ALIVE]
        self.limits_for(backend.name).check_clusters(len(running), backend.title)
        kernel = await self._kernel(backend, request.get("kernel"))
        if kernel is not None and options.get("python") == sys.executable:
            options["python"] = kernel.python  # batch workers too, unless the form says otherwise
        self._counter += 1
        cluster_id = uuid.uuid4().hex[:12]
        name = request.get("name") or f"{backend.title} {self._counter}"
        launched = LaunchedCluster(
            kernel=kernel.kernel if kernel else None,
            python=kernel.python if kernel else None,
            id=cluster_id,
            name=name,
            backend=backend,
            options=options,
            kwargs=backend.cluster_kwargs(options, cluster_id=cluster_id, cluster_name=name),
            scaling=scaling,
            profile=request.get("profile"),
            files=backend.private_dir.cluster(cluster_id) if backend.private_cluster else None,
        )
        self._clusters[cluster_id] = launched
        self._ensure_watchers()
        start = self._run_hosted(launched) if launched.files else self._start(launched)
        launched.task = asyncio.create_task(start)
        self._publish(launched)
        return launched

    async def _kernel(self, backend: Backend, name: str | None) -> KernelPython | None:
        """The chosen kernel's Python, for a cluster this launcher hosts."""
        if name is None:
            return None
        if not backend.private_cluster or self.kernel_spec_manager is None:
            raise InvalidRequest(f"kernel: {backend.title} clusters run their own environment")
        return await kernel_python(self.kernel_spec_manager, name)

    def _host_spec(self, launched: LaunchedCluster) -> HostSpec:
        spec = super()._host_spec(launched)
        return with_host_settings(spec, launched.backend, self.idle_timeout)

    # --- clusters in this process (Saturn: its scheduler runs at Saturn Cloud) ---------------
    async def _start(self, launched: LaunchedCluster) -> None:
        try:
            progress = functools.partial(self._progress, launched)
            kwargs = launched.kwargs
            if launched.files is not None:
                await asyncio.to_thread(launched.files.create)
                kwargs = launched.backend.with_credentials(kwargs, launched.files)
            cluster = await asyncio.wait_for(
                launched.backend.start(kwargs, progress, launched.files), self.start_timeout
            )
            launched.cluster = cluster
            await self._apply_scaling(launched, launched.scaling)
            await launched.backend.submitted(cluster)
            launched.scheduler_address, launched.dashboard_link = launched.backend.addresses(
                cluster
            )
            if launched.files is not None:
                launched.dashboard_link = None  # its TCP port is closed; only the socket serves
            launched.messages = []  # what was said while starting is done with
            launched.state = "running"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("Cluster %r failed to start", launched.name, exc_info=True)
            await self._fail(launched, failure_reason(exc))
            return
        self._publish(launched)

    def _progress(self, launched: LaunchedCluster, message: str) -> None:
        """What the resource manager said while starting (Saturn's status and warnings)."""
        if message and message not in launched.messages:
            launched.messages = [*launched.messages, message][-10:]
            self._publish(launched)

    async def _fail(self, launched: LaunchedCluster, reason: str) -> None:
        """Mark a cluster failed and free what is left of it (jobs, processes)."""
        launched.state = "failed"
        launched.error = reason
        launched.workers = []
        self._publish(launched)
        await self._close_quietly(launched)

    async def _apply_scaling(self, launched: LaunchedCluster, scaling: dict[str, Any]) -> None:
        if "adapt" in scaling:
            adapt = scaling["adapt"]
            await launched.backend.adapt(launched.cluster, adapt["minimum"], adapt["maximum"])
        else:
            await launched.backend.scale(launched.cluster, scaling["workers"])
        launched.scaling = scaling

    async def rescale(self, cluster_id: str, scaling: dict[str, Any]) -> LaunchedCluster:
        launched = self.get(cluster_id)
        check_scaling(scaling, "")
        self.limits_for(launched.backend.name).check_scaling(scaling, "")
        if launched.state != "running":
            raise ConflictError(f"cluster {launched.name!r} is {launched.state}, not running")
        if isinstance(launched.cluster, HostProcess):
            try:
                await launched.cluster.rescale(scaling)
            except Exception as exc:
                raise ConflictError(f"cluster {launched.name!r}: {failure_reason(exc)}") from None
            launched.scaling = scaling
        else:
            await self._apply_scaling(launched, scaling)
        self._publish(launched)
        return launched

    async def stop(self, cluster_id: str) -> None:
        """Stop a cluster, free its workers and jobs, and forget it."""
        launched = self.get(cluster_id)
        if launched.state == "stopping":
            raise ConflictError(f"cluster {launched.name!r} is already stopping")
        self._let_go.add(cluster_id)  # its record lingers until its host exits
        launched.state = "stopping"
        self._publish(launched)
        if launched.task is not None and not launched.task.done():
            launched.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await launched.task
        await self._close_quietly(launched)
        launched.state = "stopped"
        self._unlist(launched)

    async def close_all(self, keep_running: bool = False) -> None:
        """Stop every cluster (server shutdown): no process and no batch job left behind.

        With ``keep_running``, clusters in host processes are only let go: their hosts keep
        them (and their records) for the next server, or stop after their grace period.
        """
        await self._release_discovered()  # clusters not started here keep running
        kept = [c for c in self.list() if keep_running and isinstance(c.cluster, HostProcess)]
        for launched in kept:
            self._let_go.add(launched.id)
            if launched.task is not None:
                launched.task.cancel()
            await launched.cluster.disconnect()
            self._clusters.pop(launched.id, None)
            self._forget_published(launched.id)
        await asyncio.gather(
            *(self.stop(c.id) for c in self.list() if c.state != "stopping"),
            return_exceptions=True,
        )
        for watcher in self._watchers:
            watcher.cancel()
        self._watchers.clear()
        for spare in self._spares.values():
            await spare.close()
        await self._close_connections()

    async def _close_quietly(self, launched: LaunchedCluster) -> None:
        cluster = launched.cluster
        if isinstance(cluster, HostProcess):
            await cluster.stop()  # the host closes the cluster and cancels its jobs
            await launched.backend.reap_leftovers(launched.id)  # in case the host was killed
        elif cluster is not None:
            try:
                await asyncio.wait_for(launched.backend.close(cluster), 60)
            except Exception:
                log.warning("Closing cluster %r failed", launched.name, exc_info=True)
        if launched.files is not None:
            await asyncio.to_thread(launched.files.remove)


def _tails(paths: list[str], limit: int) -> list[dict[str, Any]]:
    files = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                size = f.seek(0, 2)
                f.seek(max(0, size - limit))
                text: str | None = f.read().decode(errors="replace")
        except FileNotFoundError:
            text = None
        files.append({"path": path, "text": text})
    return files


def check_scaling(scaling: Any, prefix: str) -> None:
    schemas.check(scaling, "scaling.yaml", prefix=prefix)
    if "adapt" in scaling and scaling["adapt"]["minimum"] > scaling["adapt"]["maximum"]:
        field = ".".join(p for p in (prefix, "adapt", "minimum") if p)
        raise InvalidRequest(f"{field}: must not be greater than the maximum", field=field)
