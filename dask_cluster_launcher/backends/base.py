"""What every backend shares: options validated against its schema, mapped to the keyword
arguments of a real cluster class, started asynchronously and watched.

To add a backend, provide ``name``, ``title``, ``schema_file`` (a JSON Schema that draws the
form and validates every request), ``cluster_class_path`` and ``cluster_class``, and map the
form's options with ``cluster_kwargs``; register the class in the entry point group
``dask_cluster_launcher.backends``. You get validation with field-named errors, previews,
profiles, limits and locks, a host process per cluster with TLS and a private dashboard, live
workers, scaling and adaptivity, and cleanup at every kind of stop. ``docs/adding-a-backend.md``
walks through an example.

Where each method runs: the form, validation and mapping (``describe``, ``validate``,
``cluster_kwargs``, ``job_script``), the batched job queries (``poll_jobs``, ``job_log_files``,
``reap_leftovers``) and ``discover`` run in the Jupyter server; ``start``, ``scale``, ``adapt``,
``workers``, ``addresses`` and ``close`` run where the cluster is held: in its host process
(``private_cluster`` or ``runs_in_host``; the host imports the class by its entry point), else
in the server (Saturn and Dask Gateway, whose schedulers run at the service).

Services that keep clusters of their own (Dask Gateway) may also list the user's clusters that
this server did not start (made in a notebook, or left by a previous server): ``discover``
returns them as :class:`Discovered`; the manager calls it every few seconds, lists each new one
as ``running`` and marked external, and scales, adapts and stops it with this backend's methods
like any other. At server shutdown an external cluster is only let go (``disconnect``), never
stopped; then ``close_connections`` closes what the backend keeps open to its service. A
backend whose notebooks connect other than with ``Client(address)`` gives the code with
``client_code``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ..errors import InvalidRequest
from ..private import ClusterFiles, PrivateDir

Progress = Callable[[str], None]


class StartEstimate(TypedDict):
    """When a job as the form asks it may start (``start``: ISO 8601, ``None``: no estimate),
    and the batch system's words for it or for why there is none (``detail``)."""

    start: str | None
    detail: str | None


@dataclass
class Discovered:
    """A running cluster of the user's that this server did not start (see ``discover``)."""

    #: The service's name for it; stable, unique within the backend, safe in a URL path.
    key: str
    name: str
    #: What the backend's ``scale``, ``adapt``, ``close``, ``workers`` ... accept.
    cluster: Any
    options: dict[str, Any] = field(default_factory=dict)
    scaling: dict[str, Any] = field(default_factory=lambda: {"workers": 0})
    #: ISO date of its start, when the service says.
    created: str | None = None


@dataclass(frozen=True)
class Activity:
    """What a cluster's scheduler is doing, for the host's grace period and idle timeout."""

    #: Clients connected (``fire-and-forget`` ones, which the scheduler keeps, not counted).
    clients: int
    #: Tasks the scheduler holds (waiting, processing or in memory).
    tasks: int


def scheduler_activity(scheduler: Any) -> Activity:
    """The :class:`Activity` of a ``distributed.Scheduler`` object."""
    clients = scheduler.clients or {}
    named = sum(1 for name in clients if not str(name).startswith("fire-and-forget"))
    return Activity(named, len(scheduler.tasks or {}))


class Backend(ABC):
    """One kind of cluster (local, SLURM, SGE, Saturn, ...): see the module's docstring."""

    name: str
    title: str
    schema_file: str
    #: Import path shown in reproduce-in-code previews, e.g. ``dask_jobqueue.SLURMCluster``.
    cluster_class_path: str
    #: The scheduler (and so its dashboard) runs on this machine, where the server relays it.
    dashboard_on_this_machine = True
    #: The launcher secures the cluster itself: per-cluster TLS credentials in the user's
    #: private directory, the dashboard on a private Unix socket (see ``with_credentials``).
    #: ``False`` for services that bring their own security (Saturn).
    private_cluster = True
    #: Its clusters run in a host process of the launcher's even though they are not private
    #: (private ones always do): a scheduler someone else runs, whose messages (which may
    #: carry pickles) must never be read in the Jupyter server.
    runs_in_host = False
    #: Its clusters start their workers: one is ``starting`` until the first joins. ``False``
    #: for a scheduler whose workers someone else starts (running once connected).
    starts_workers = True
    #: Where credentials, dashboard sockets and default job logs go (set by the server).
    private_dir: PrivateDir = PrivateDir.at()

    # --- describing the form --------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        """Why this backend cannot launch here, or ``None`` when it can."""
        return None

    def static_schema(self) -> dict[str, Any]:
        schema = _schemas().form(self.schema_file)
        schema.pop("x-ui", None)
        return schema

    def ui_schema(self) -> dict[str, Any]:
        return copy.deepcopy(_schemas().load(self.schema_file).get("x-ui", {}))

    async def form_schema(self) -> dict[str, Any]:
        """The schema sent to the sidebar; batch backends add live site choices."""
        schema = self.static_schema()
        for key, value in self.defaults().items():
            if key in schema.get("properties", {}):
                schema["properties"][key]["default"] = value
        return schema

    def defaults(self) -> dict[str, Any]:
        """Default option values: the schema's, overridden by the user's dask config."""
        properties = self.static_schema().get("properties", {})
        return {k: v["default"] for k, v in properties.items() if "default" in v}

    async def describe(self) -> dict[str, Any]:
        reason = self.unavailable_reason()
        return {
            "name": self.name,
            "title": self.title,
            "available": reason is None,
            "reason": reason,
            "schema": await self.form_schema(),
            "ui_schema": self.ui_schema(),
            "defaults": self.defaults(),
            # its clusters run in a host process of the launcher's, which may run a kernel's
            # Python (a launch's ``kernel``)
            "hosted": self.private_cluster or self.runs_in_host,
        }

    # --- validating and mapping options ---------------------------------------------------
    async def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        """Schema-checked options with defaults filled in; InvalidRequest names the bad field."""
        # in a thread: a hostile body of up to 256 KiB may cost the validator a second
        await asyncio.to_thread(_schemas().check, options, self.schema_file, prefix="options")
        complete = {**self.defaults(), **options}
        await self.check_consistency(complete)
        return complete

    def with_overrides(self, base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
        """A profile's options with a request's overrides; a backend whose fields go together
        (SGE's memory resource and the memory field) keeps them together."""
        return {**base, **overrides}

    def check_scaling(self, scaling: dict[str, Any], prefix: str) -> None:
        """Refuse scalings this kind of cluster cannot do (InvalidRequest naming the field)."""
        return None

    async def check_consistency(self, options: dict[str, Any]) -> None:
        """Checks that span fields or need the site (sizes, limits); raise InvalidRequest."""
        return None

    @abstractmethod
    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        """Keyword arguments for the cluster class, from validated options."""

    @abstractmethod
    def cluster_class(self) -> type:
        """The real cluster class (imported lazily so the server starts fast)."""

    def job_script(self, kwargs: dict[str, Any]) -> str | None:
        """The batch job script these arguments produce (batch backends only)."""
        return None

    async def start_estimate(self, job_script: str | None) -> StartEstimate:
        """When the batch system would start a job running ``job_script`` (the preview's);
        none unless the backend asks its batch system (SLURM's ``sbatch --test-only``)."""
        return {"start": None, "detail": None}

    # --- lifecycle --------------------------------------------------------------------------
    def with_credentials(self, kwargs: dict[str, Any], files: ClusterFiles) -> dict[str, Any]:
        """``kwargs`` with the cluster's own TLS credentials in place of ``security=True``, and
        with the workers' HTTP servers closed (private backends override this)."""
        return kwargs

    async def start(
        self,
        kwargs: dict[str, Any],
        progress: Progress | None = None,
        files: ClusterFiles | None = None,
    ) -> Any:
        """Create the cluster in the event loop of the process that holds it (its host, or the
        server); close what was created on failure.

        ``progress`` receives what the resource manager says while the cluster comes up;
        ``files`` are the cluster's private files (credentials written, for private clusters).
        """
        cluster = self.cluster_class()(asynchronous=True, **kwargs)
        try:
            await cluster
        except BaseException:
            await self.close(cluster)
            raise
        return cluster

    async def reap_leftovers(self, cluster_id: str) -> None:
        """Cancel whatever a cluster whose host died may have left (batch jobs, by name)."""
        return None

    async def submitted(self, cluster: Any) -> None:
        """Wait until the first scaling request has been handed to the cluster's resource
        manager, so that a launch whose jobs are refused fails with the refusal."""
        return None

    async def scale(self, cluster: Any, n: int) -> None:
        with contextlib.suppress(AttributeError):
            cluster._adaptive.stop()
        result = cluster.scale(n)
        if asyncio.iscoroutine(result):
            await result

    def forget_ended_workers(self, cluster: Any, running: set[str], seen: set[str]) -> set[str]:
        """Worker specs whose workers were ``seen`` and are no longer ``running`` (their job
        ended, or the process died): forgotten, so that the next ``scale`` starts new ones.

        ``running`` holds worker names as the scheduler knows them (a job with several worker
        processes names them ``<spec>-<i>``). Applies to SpecCluster-based clusters.
        """
        specs = getattr(cluster, "worker_spec", None)
        if not isinstance(specs, dict):
            return set()
        # one pass over the workers, not workers x specs (400 jobs of 8 processes each)
        names = running | {name.rpartition("-")[0] for name in running}
        alive = {s for s in specs if str(s) in names}
        ended = (seen & set(specs)) - alive
        for name in ended:
            specs.pop(name, None)
        seen.difference_update(ended)
        seen.update(alive)
        return ended

    async def adapt(self, cluster: Any, minimum: int, maximum: int) -> None:
        cluster.adapt(minimum=minimum, maximum=maximum)

    async def discover(self) -> list[Discovered]:
        """The user's running clusters at this backend's service that this backend is not
        already handling (it started or returned them before); ``[]`` when the service keeps
        no such list (the default). Called every few seconds while the server runs."""
        return []

    async def disconnect(self, cluster: Any) -> None:
        """Let go of a discovered cluster without stopping it (server shutdown)."""
        return None

    async def close_connections(self) -> None:
        """Server shutdown, after every cluster was stopped or let go: close what this
        backend keeps open to its service (an HTTP session)."""
        return None

    async def close(self, cluster: Any) -> None:
        result = cluster.close()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await result

    # --- watching -----------------------------------------------------------------------------
    async def activity(self, cluster: Any) -> Activity | None:
        """Clients and tasks of the cluster's scheduler; ``None`` when they cannot be read.

        The default reads the scheduler object of a cluster whose scheduler runs in this
        process (local and batch clusters); a backend with a remote scheduler asks it.
        """
        scheduler = getattr(cluster, "scheduler", None)
        if scheduler is None or not hasattr(scheduler, "clients"):
            return None
        return scheduler_activity(scheduler)

    def lost(self, cluster: Any) -> str | None:
        """Why a running cluster stopped behind the launcher's back, or ``None``."""
        status = getattr(getattr(cluster, "status", None), "name", "running")
        if status in ("closed", "failed"):
            return f"the cluster stopped outside the launcher ({status})"
        return None

    def addresses(self, cluster: Any) -> tuple[str | None, str | None]:
        """(scheduler address, direct dashboard link)."""
        return cluster.scheduler_address, cluster.dashboard_link

    async def workers(self, cluster: Any) -> list[dict[str, Any]]:
        """Workers as the scheduler sees them.

        The scheduler of local and batch clusters runs in this process: read its live state.
        Otherwise use ``scheduler_info``, which the cluster's own comm keeps current.
        """
        scheduler_workers = getattr(getattr(cluster, "scheduler", None), "workers", None)
        if isinstance(scheduler_workers, Mapping):
            rows = [
                _worker_row(ws.address, ws.name, ws.host, ws.nthreads, ws.memory_limit, ws.status)
                for ws in scheduler_workers.values()
            ]
        else:
            info = getattr(cluster, "scheduler_info", None) or {}
            rows = [
                _worker_row(
                    address,
                    w.get("name", address),
                    w.get("host", ""),
                    w.get("nthreads", 0),
                    w.get("memory_limit", 0),
                    w.get("status", "running"),
                )
                for address, w in info.get("workers", {}).items()
            ]
        for row in rows:
            row["job_id"] = self.worker_job_id(cluster, row["name"])
        return sorted(rows, key=lambda row: row["address"])

    def worker_job_id(self, cluster: Any, worker_name: str) -> str | None:
        return None

    def job_log_files(self, kwargs: dict[str, Any], job_id: str) -> list[str]:
        """Paths of a batch job's output files (batch backends only)."""
        return []

    def client_code(self, cluster: Any, cluster_name: str) -> str | None:
        """Notebook code connecting a client, for backends whose clients do not connect with
        ``Client(scheduler_address, security=...)``; ``None`` (the default) for those that do.
        Built with ``repr`` (see ``snippets``), and never holding a secret."""
        return None

    def client_security(self, cluster: Any) -> dict[str, str] | None:
        """``distributed.security.Security`` keyword arguments a notebook needs to connect
        (TLS schedulers); ``None`` for plain tcp."""
        return None

    async def poll_jobs(self, cluster_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Batch job states per cluster id; one batched query for all clusters of this backend."""
        return {}


def _schemas() -> Any:
    """The schema module, imported when first needed: jsonschema takes over a second to import
    here, and a cluster host process (which never validates) must start fast."""
    from .. import schemas

    return schemas


def require(condition: bool, field: str, message: str) -> None:
    """Raise InvalidRequest for ``field`` unless ``condition`` holds."""
    if not condition:
        raise InvalidRequest(f"{field}: {message}", field=field)


def _worker_row(
    address: str, name: Any, host: str, nthreads: int, memory_limit: int, status: Any
) -> dict[str, Any]:
    return {
        "name": str(name),
        "address": address,
        "host": host,
        "nthreads": int(nthreads or 0),
        "memory_limit": int(memory_limit or 0),
        "status": getattr(status, "name", str(status)),
        "job_id": None,
    }
