"""A launched cluster as the manager keeps it, and where its dashboard is seen from."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, cast
from urllib.parse import urlsplit

from .backends import Backend
from .changes import ROW_KEYS, JobRow, Row, RowTable, WorkerRow
from .private import ClusterFiles


@dataclass
class LaunchedCluster:
    id: str
    name: str
    backend: Backend
    options: dict[str, Any]
    kwargs: dict[str, Any]
    scaling: dict[str, Any]
    profile: str | None = None
    state: str = "starting"
    error: str | None = None
    cluster: Any = None
    scheduler_address: str | None = None
    dashboard_link: str | None = None
    #: Workers by name and batch jobs by id, with what was not published yet (see
    #: ``publishing``); ``workers`` and ``jobs`` read and replace them as lists.
    worker_rows: RowTable = field(default_factory=lambda: RowTable(ROW_KEYS["workers"]))
    job_rows: RowTable = field(default_factory=lambda: RowTable(ROW_KEYS["jobs"]))
    messages: list[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    task: asyncio.Task[None] | None = None
    #: Private credentials and dashboard socket (``None`` for Saturn, which has its own TLS).
    files: ClusterFiles | None = None
    #: The kernel whose Python runs the cluster (None: the server's), and the cluster's versions
    kernel: str | None = None
    python: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def workers(self) -> list[WorkerRow]:
        return cast("list[WorkerRow]", self.worker_rows.values())

    @workers.setter
    def workers(self, rows: list[Row]) -> None:
        self.worker_rows.replace(rows)

    @property
    def jobs(self) -> list[JobRow]:
        return cast("list[JobRow]", self.job_rows.values())

    @jobs.setter
    def jobs(self, rows: list[Row]) -> None:
        self.job_rows.replace(rows)


def proxied_dashboard_url(
    base_url: str, dashboard_link: str | None, on_this_machine: bool = True
) -> str | None:
    """The dashboard through jupyter-server-proxy: ``{base_url}proxy/PORT/status``.

    A dashboard served from this machine (whatever interface its link names) is proxied from
    localhost, which jupyter-server-proxy allows by default; a remote one keeps its own link.
    """
    if not dashboard_link:
        return None
    parts = urlsplit(dashboard_link)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not (on_this_machine or loopback) or not parts.port:
        return dashboard_link
    path = parts.path.lstrip("/") or "status"
    return f"{base_url.rstrip('/')}/proxy/{parts.port}/{path}"


def dashboard_link_template(base_url: str) -> str:
    """``distributed.dashboard.link`` for notebooks: dashboards through this Jupyter server."""
    return f"{base_url.rstrip('/')}/proxy/{{port}}/status"


def private_dashboard_url(base_url: str, cluster_id: str) -> str:
    """A private cluster's dashboard, served by this extension from the cluster's socket."""
    return f"{base_url.rstrip('/')}/dask-cluster-launcher/dashboard/{cluster_id}/status"


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "the cluster did not start in time"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
