"""``ClusterHandle``: how the manager holds one cluster, wherever the cluster runs.

The manager keeps a row per cluster (``launched.LaunchedCluster``: what the sidebar shows) and
a handle that does the work. The handle writes what it learns into the row and says so through
its :class:`Reports`; it never imports or calls the manager, which decides what a report means
(publish a change, mark the cluster failed and free it, drop it from the list).

To add a kind of cluster (a host inside a batch job, a cluster at a new service), subclass
``ClusterHandle`` and provide ``start``, ``follow``, ``rescale``, ``stop`` and the client
side (``client_code``, ``dashboard_url``); you get ``run`` (start, then follow, a failure
reported once with a reason a user can read).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ..backends import Backend
from ..changes import RowTable
from ..errors import NotFound

log = logging.getLogger("dask_cluster_launcher.manager")


class ClusterRow(Protocol):
    """What a handle reads and writes of the manager's row for its cluster."""

    id: str
    name: str
    state: str
    phase: str | None
    error: str | None
    scheduler_address: str | None
    dashboard_link: str | None
    scaling: dict[str, Any]
    messages: list[str]
    versions: dict[str, str]
    worker_rows: RowTable
    job_rows: RowTable


@dataclass(frozen=True)
class Reports:
    """How a handle tells its owner what happened."""

    #: The row changed: tell the sidebar (nothing is sent when nothing visible changed).
    publish: Callable[[], None]
    #: The cluster failed for this reason (a sentence for the user); the owner frees it.
    fail: Callable[[str], Awaitable[None]]
    #: The cluster was stopped by its owner elsewhere (a notebook closed it): it leaves the list.
    ended: Callable[[], None]


class ClusterHandle(ABC):
    """One cluster as the manager holds it.

    ``run`` is the cluster's task: ``start`` brings it up (its row is ``running`` once a worker
    joined, see ``settle_state``), then
    ``follow`` streams its changes into the row (workers, state, messages) until it ends. Both
    raise on failure; ``run`` reports it through ``Reports.fail``. ``rescale`` changes its
    workers, ``stop`` frees everything it holds (batch jobs, processes, files; it never
    raises), ``let_go`` leaves it running for the next server (only when ``outlives_server``).
    """

    #: Made elsewhere (a service's cluster found by ``discover``): shown as external, let go
    #: and never stopped at server shutdown.
    external: ClassVar[bool] = False

    def __init__(self, row: ClusterRow, backend: Backend, reports: Reports) -> None:
        self.row = row
        self.backend = backend
        self.reports = reports

    async def run(self) -> None:
        try:
            await self.start()
            await self.follow()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.report_failure(exc)

    async def report_failure(self, exc: Exception) -> None:
        """Say why the cluster failed, in words for its user."""
        log.warning("Cluster %r failed to start", self.row.name, exc_info=True)
        await self.reports.fail(failure_reason(exc))

    @abstractmethod
    async def start(self) -> None:
        """Bring the cluster up (or take it over)."""

    @abstractmethod
    async def follow(self) -> None:
        """Apply the cluster's changes to the row, as they happen, until it ends."""

    @abstractmethod
    async def rescale(self, scaling: dict[str, Any]) -> None:
        """Apply ``{"workers": n}`` or ``{"adapt": {...}}``; the row's scaling follows."""

    @abstractmethod
    async def stop(self) -> None:
        """Free the cluster and all it holds; never raises."""

    @property
    def outlives_server(self) -> bool:
        """Whether the cluster can keep running without this server (see ``let_go``)."""
        return False

    async def let_go(self) -> None:  # noqa: B027  (most clusters hold no connection)
        """Keep the cluster running for the next server; only the connection to it closes."""

    @property
    def scheduler_job(self) -> str | None:
        """The batch job the cluster's scheduler runs in, when it has one of its own."""
        return None

    @property
    def started(self) -> bool:
        """Whether the cluster (or its host) exists yet: its batch jobs can be polled."""
        return False

    @abstractmethod
    def client_code(self, base_url: str) -> str:
        """Notebook code that connects a client to the running cluster."""

    def connect_code(self, base_url: str) -> str | None:
        """Short notebook code that connects by cluster id (``connecting.connect``), for a cluster
        whose record and credentials a kernel of this user can read; None: only the explicit
        ``client_code`` works."""
        return None

    @abstractmethod
    def dashboard_url(self, base_url: str) -> str | None:
        """The dashboard as the sidebar links it (through this server where it can be)."""

    def dashboard_socket(self) -> str:
        """The Unix socket this server serves the dashboard from."""
        raise NotFound(f"cluster {self.row.name!r} has no dashboard served by this server")


#: The steps of a starting cluster, as its card says them.
STARTING_SCHEDULER = "starting the scheduler"
WAITING_FOR_WORKERS = "scheduler up, waiting for workers"


def wants_workers(scaling: dict[str, Any]) -> bool:
    """Whether the cluster asks for workers from the start (adaptive from 0 does not)."""
    wanted = scaling["adapt"]["minimum"] if "adapt" in scaling else scaling.get("workers", 0)
    return bool(wanted)


def settle_state(row: ClusterRow, backend: Backend) -> None:
    """Call once the scheduler is up, and when the workers change: the cluster is ``running``
    once its first worker joined (at once when it asks for none, or its backend starts no
    workers: an adopted scheduler); until then it is
    ``starting``, its scheduler up and waiting for workers (jobs in a queue can wait hours,
    and a job that crashes at start never brings one). Once running it stays running."""
    if row.state == "starting":
        if row.worker_rows.rows or not (backend.starts_workers and wants_workers(row.scaling)):
            row.state, row.phase = "running", None
        else:
            row.phase = WAITING_FOR_WORKERS


def scheduler_up(row: ClusterRow) -> bool:
    """Whether the cluster's scheduler runs (a client can connect, it can be scaled)."""
    return row.state in ("starting", "running") and row.scheduler_address is not None


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "the cluster did not start in time"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
