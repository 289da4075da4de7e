"""What the sidebar is told about a cluster: its model, and a change event per change.

The first event of a cluster carries the whole model; after that, ``changed`` events carry a
patch (see ``changes``): the plain fields that differ from the last event (a dozen, compared
one by one) and the worker and job rows that changed since then, which the cluster's row
tables recorded as they changed. Publishing a change costs what changed: one worker joining a
400-worker cluster is one row, and nothing compares or copies the other 399.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from .launched import LaunchedCluster
from .links import web_link

log = logging.getLogger("dask_cluster_launcher.manager")

ChangeCallback = Callable[[str, str, "dict[str, Any] | None"], None]


class Publisher:
    """Tells ``on_change`` (the server's event logger) about the clusters it is given."""

    def __init__(self, on_change: ChangeCallback | None, base_url: str = "/") -> None:
        self.base_url = base_url
        self._on_change = on_change
        #: The plain fields of each cluster as last published.
        self._published: dict[str, dict[str, Any]] = {}

    def model(self, launched: LaunchedCluster) -> dict[str, Any]:
        """The whole cluster, as the REST API returns it and the first event carries it."""
        return {**self._fields(launched), "workers": launched.workers, "jobs": launched.jobs}

    def _fields(self, launched: LaunchedCluster) -> dict[str, Any]:
        handle = launched.handle
        return {
            "id": launched.id,
            "name": launched.name,
            "backend": launched.backend.name,
            "profile": launched.profile,
            "state": launched.state,
            "phase": launched.phase if launched.state == "starting" else None,
            "error": launched.error,
            "scheduler_address": launched.scheduler_address,
            # what a scheduler or service reported: only web addresses reach the browser
            "dashboard_link": web_link(launched.dashboard_link),
            "dashboard_url": web_link(handle.dashboard_url(self.base_url)) if handle else None,
            "scaling": copy.deepcopy(launched.scaling),
            "messages": list(launched.messages),
            "created": launched.created,
            "kernel": launched.kernel,
            "versions": dict(launched.versions),
            "external": bool(handle and handle.external),
            "usage": dict(launched.usage) if launched.usage is not None else None,
            "scheduler_job": handle.scheduler_job if handle else None,
        }

    def publish(self, launched: LaunchedCluster) -> None:
        """Tell the sidebar what changed since the last event (nothing when nothing did): the
        whole cluster the first time, then patches."""
        fields = self._fields(launched)
        previous = self._published.get(launched.id)
        self._published[launched.id] = fields
        workers, jobs = launched.worker_rows.take(), launched.job_rows.take()
        if previous is None:
            self._emit("updated", launched.id, self.model(launched))
            return
        patch: dict[str, Any] = {}
        changed = {k: v for k, v in fields.items() if k not in previous or previous[k] != v}
        if changed:
            patch["fields"] = changed
        if workers:
            patch["workers"] = workers
        if jobs:
            patch["jobs"] = jobs
        if patch:
            self._emit("changed", launched.id, patch)

    def forget(self, cluster_id: str) -> None:
        """The cluster is no longer listed: its next appearance is a whole model again."""
        self._published.pop(cluster_id, None)

    def removed(self, cluster_id: str) -> None:
        """The cluster leaves the sidebar (stopped)."""
        self.forget(cluster_id)
        self._emit("removed", cluster_id, None)

    def _emit(self, action: str, cluster_id: str, model: dict[str, Any] | None) -> None:
        if self._on_change is not None:
            try:
                self._on_change(action, cluster_id, model)
            except Exception:
                log.warning("Publishing a cluster change failed", exc_info=True)
