"""A launched cluster as the manager keeps it: the row the sidebar is shown, and the handle
that holds the cluster (see ``handles``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, cast

from .backends import Backend
from .changes import ROW_KEYS, JobRow, Row, RowTable, WorkerRow
from .dashboard_urls import (  # noqa: F401  (imported from here by users of the manager)
    dashboard_link_template,
    private_dashboard_url,
    proxied_dashboard_url,
)
from .handles.base import STARTING_SCHEDULER, ClusterHandle
from .handles.base import failure_reason as failure_reason
from .usage import Usage


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
    #: The step of a starting cluster (see ``handles.base.settle_state``); published only
    #: while the cluster is starting.
    phase: str | None = STARTING_SCHEDULER
    error: str | None = None
    scheduler_address: str | None = None
    dashboard_link: str | None = None
    #: Workers by name and batch jobs by id, with what was not published yet (see
    #: ``publishing``); ``workers`` and ``jobs`` read and replace them as lists.
    worker_rows: RowTable = field(default_factory=lambda: RowTable(ROW_KEYS["workers"]))
    job_rows: RowTable = field(default_factory=lambda: RowTable(ROW_KEYS["jobs"]))
    messages: list[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    #: How the manager holds the cluster (where it runs), and the task that runs it.
    handle: ClusterHandle | None = None
    task: asyncio.Task[None] | None = None
    #: The kernel whose Python runs the cluster (None: the server's), and the cluster's versions
    kernel: str | None = None
    python: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    #: What a batch cluster used so far (see ``usage``); None for clusters without batch jobs
    usage: Usage | None = None

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
