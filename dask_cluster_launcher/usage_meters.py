"""The usage of the manager's batch clusters: one ``UsageMeter`` per cluster (see ``usage``),
fed by the job watcher's polls, settled from the batch system's accounting when the cluster
stops, and written to the user's usage log (see ``usage_log``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .backends.batch.accounting import AccountedJob
from .backends.batch.jobqueue import JobQueueBackend, processes_per_job
from .launched import LaunchedCluster
from .usage import UsageMeter, UsagePublication, most_core_hours
from .usage_log import UsageLine, append

log = logging.getLogger("dask_cluster_launcher.manager")

#: How long a stop waits for the accounting to know every job as ended (slurmdbd takes a
#: moment after a cancel); after that the cluster's usage stays the live estimate.
SETTLE_SECONDS = 10.0
SETTLE_INTERVAL = 0.5


def gpus_per_job(options: Mapping[str, Any]) -> int:
    """GPUs a job asks for in the form's GRES ("gpu:2", "gpu:a100:1,shard:2")."""
    total = 0
    for item in filter(None, str(options.get("gres") or "").split(",")):
        parts = item.strip().split(":")
        if parts[0] == "gpu":
            total += int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return total


def jobs_at_size(launched: LaunchedCluster) -> int:
    """Batch jobs the cluster has at its current size (adaptive: at its maximum)."""
    scaling = launched.scaling
    workers = scaling["adapt"]["maximum"] if "adapt" in scaling else scaling.get("workers", 0)
    per_job = max(1, processes_per_job(launched.options)) if "cores" in launched.options else 1
    return math.ceil(int(workers) / per_job)


class UsageMeters:
    """The meters of the clusters being watched, by cluster id."""

    def __init__(self, warnings: Mapping[str, float] | None = None) -> None:
        #: The site's per-user warning threshold in core-hours, by backend name.
        self.warnings = dict(warnings or {})
        self._meters: dict[str, UsageMeter] = {}
        self._publications: dict[str, UsagePublication] = {}
        self._settling: set[asyncio.Task[None]] = set()

    def observe(self, launched: LaunchedCluster, polled: Iterable[Mapping[str, Any]]) -> bool:
        """A poll's job rows of a batch cluster; whether its usage is due to be published."""
        if not isinstance(launched.backend, JobQueueBackend):
            return False
        meter = self._meters.get(launched.id)
        if meter is None:
            cores = int(launched.kwargs.get("cores") or 1)
            meter = self._meters[launched.id] = UsageMeter(cores, gpus_per_job(launched.options))
        now = time.time()
        meter.observe(polled, now)
        return self._set(launched, meter, now)

    def _set(self, launched: LaunchedCluster, meter: UsageMeter, now: float) -> bool:
        most = most_core_hours(launched.kwargs, jobs_at_size(launched))
        warning = self.warnings.get(launched.backend.name)
        usage = meter.usage(now, most, warning)
        publication = self._publications.setdefault(launched.id, UsagePublication())
        if not publication.due(usage, now):
            return False
        launched.usage = usage
        return True

    def account(
        self, clusters: Iterable[LaunchedCluster], accounted: Mapping[str, AccountedJob]
    ) -> None:
        """The accounting of jobs that left the queue (the watcher's one call per poll)."""
        if not accounted:
            return
        for launched in clusters:
            meter = self._meters.get(launched.id)
            if meter is not None:
                meter.account(accounted[j] for j in meter.jobs if j in accounted)

    def forget(self, cluster_ids: Iterable[str]) -> None:
        for cluster_id in cluster_ids:
            self._meters.pop(cluster_id, None)
            self._publications.pop(cluster_id, None)

    def known(self) -> set[str]:
        return set(self._meters)

    async def settle(self, launched: LaunchedCluster) -> None:
        """The cluster stopped: its usage from the accounting (one call for all its jobs,
        repeated until every job is accounted as ended or ``SETTLE_SECONDS`` passed), then a
        line in the user's usage log. Its meter is forgotten."""
        meter = self._meters.pop(launched.id, None)
        if meter is not None:
            await self._settle(launched, meter)

    def settle_later(self, launched: LaunchedCluster) -> None:
        """``settle`` in a task of its own (a cluster stopped elsewhere leaves the list at
        once; its line in the usage log comes a moment later)."""
        meter = self._meters.pop(launched.id, None)
        if meter is not None:
            task = asyncio.ensure_future(self._settle(launched, meter))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def _settle(self, launched: LaunchedCluster, meter: UsageMeter) -> None:
        meter.closed = True
        backend = launched.backend
        # Grid Engine writes its records every flush_time (``accounting_delay``): waited for
        delay = getattr(backend, "accounting_delay", 0.0)
        settle = max(SETTLE_SECONDS, delay + 2 * SETTLE_INTERVAL)
        deadline = time.monotonic() + settle
        while isinstance(backend, JobQueueBackend) and meter.unaccounted():
            try:
                accounted = await backend.account_jobs(meter.unaccounted())
            except Exception as exc:  # a site without accounting: the live estimate stays
                log.debug("No accounting for cluster %r: %s", launched.name, exc)
                break
            meter.account(accounted.values())
            meter.never_ran(accounted)
            if not meter.unaccounted() or time.monotonic() > deadline:
                break
            await asyncio.sleep(SETTLE_INTERVAL)
        self._publications.pop(launched.id, None)
        self._set(launched, meter, time.time())
        usage = launched.usage
        if usage is None:
            return
        line = UsageLine(
            cluster_id=launched.id,
            name=launched.name,
            backend=backend.name,
            created=launched.created,
            stopped=datetime.now().astimezone().isoformat(),
            core_hours=usage["core_hours"],
            gpu_hours=usage["gpu_hours"],
            final=usage["final"],
            jobs=len(meter.jobs),
        )
        try:
            await asyncio.to_thread(append, backend.private_dir.root, line)
        except OSError:
            log.warning("Writing the usage of cluster %r failed", launched.name, exc_info=True)
