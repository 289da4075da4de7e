"""What the host hears from a scheduler in its process, at once, instead of at its next look."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

#: ``(client id, the versions it sent)`` when a client connects, ``(client id, None)`` when it
#: leaves.
ClientCallback = Callable[[str, Any], None]


class SchedulerEvents(SchedulerPlugin):
    """Wakes the host when the scheduler adds or removes a worker or a worker's status changes
    (init -> running, paused), and tells it which clients connect with which versions."""

    name = "dask-cluster-launcher-scheduler-events"

    def __init__(self, workers_changed: asyncio.Event, client_changed: ClientCallback) -> None:
        self.workers_changed = workers_changed
        self.client_changed = client_changed

    def add_worker(self, scheduler: Any, worker: str) -> None:
        self.workers_changed.set()

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        self.workers_changed.set()

    def log_event(self, topic: str, msg: Any) -> None:
        # the scheduler logs each status change under the worker's address (no plugin hook)
        if isinstance(msg, dict) and msg.get("action") == "worker-status-change":
            self.workers_changed.set()

    def add_client(self, scheduler: Any, client: str) -> None:
        state = scheduler.clients.get(client)
        if state is not None and not client.startswith("fire-and-forget"):
            self.client_changed(client, getattr(state, "versions", None))

    def remove_client(self, scheduler: Any, client: str) -> None:
        self.client_changed(client, None)
