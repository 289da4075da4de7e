"""The batch jobs of the manager's clusters: one batched query per backend and poll (``squeue``,
``qstat``), whichever process holds each cluster. Only changes are published.

Jobs that end before their worker joins stay on the card with the last error line of their
log, and a cluster whose jobs all fail that way is failed with that reason (see
``job_starts``), within a poll or two of the last job's end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .backends import Backend
from .job_ends import JobEnds
from .job_logs import last_error_line, read_tails
from .job_starts import StartFailures
from .launched import LaunchedCluster
from .usage_meters import UsageMeters

log = logging.getLogger("dask_cluster_launcher.manager")

#: States of the clusters whose jobs are polled.
_WATCHED = ("starting", "running", "stopping")


class JobWatcher:
    def __init__(
        self,
        backends: dict[str, Backend],
        clusters: Callable[[], list[LaunchedCluster]],
        publish: Callable[[LaunchedCluster], None],
        interval: float,
        fail: Callable[[LaunchedCluster, str], Awaitable[None]] | None = None,
    ) -> None:
        self.backends = backends
        self.clusters = clusters
        self.publish = publish
        self.interval = interval
        #: Called (once, in a task of its own) when a cluster's jobs all failed to start.
        self.fail = fail
        self._starts: dict[str, StartFailures] = {}
        self._failing: set[asyncio.Task[None]] = set()
        #: Why jobs ended, from one accounting call per backend and poll (see ``job_ends``)
        self.ends = JobEnds()
        #: What each batch cluster used, from the same polls (see ``usage_meters``)
        self.usage = UsageMeters()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()

    async def poll(self) -> None:
        by_backend: dict[str, list[LaunchedCluster]] = {}
        listed = set()
        for launched in self.clusters():
            listed.add(launched.id)
            started = launched.handle is not None and launched.handle.started
            if started and launched.state in _WATCHED:
                by_backend.setdefault(launched.backend.name, []).append(launched)
        for gone in set(self._starts) - listed:
            del self._starts[gone]
        self.ends.forget(self.ends.known() - listed)
        self.usage.forget(self.usage.known() - listed)
        for name, group in by_backend.items():
            try:
                jobs = await self.backends[name].poll_jobs([launched.id for launched in group])
            except Exception:
                log.warning("Polling %s jobs failed", name, exc_info=True)
                continue
            for launched in group:
                starting = launched.state == "starting" and not launched.workers
                self.ends.observe(launched.id, jobs.get(launched.id, []), starting)
            accounted = await self.ends.account(self.backends[name], [c.id for c in group])
            self.usage.account(group, accounted)  # jobs that ended count exactly from now on
            for launched in group:
                await self._update(launched, jobs.get(launched.id, []))

    async def _update(self, launched: LaunchedCluster, polled: list[dict]) -> None:
        starts = self._starts.setdefault(launched.id, StartFailures())
        # jobs the queue never listed that the accounting found (Grid Engine: a crash
        # between two polls) count as the queue's ended rows
        listed = polled + self.ends.found(launched.id)
        # the workers' job ids: a job whose worker joined is no start failure when it ends
        rows = starts.update(listed, (w.get("job_id") for w in launched.workers))
        if starts.unread:
            await self._read_errors(launched, starts)
            rows = starts.rows()
        rows = self.ends.rows(launched.id, rows)
        # one comparison per job; nothing is published when nothing changed
        jobs_changed = launched.job_rows.replace(rows)
        if self.usage.observe(launched, polled) or jobs_changed:
            self.publish(launched)
        reason = starts.verdict() if launched.state in ("starting", "running") else None
        if reason and not self.ends.settled(launched.id):
            reason = None  # next poll, with the jobs' ends from the accounting
        if reason and self.fail is not None and not starts.reported:
            starts.reported = True  # once: the failure stops the cluster in its own time
            task = asyncio.ensure_future(self.fail(launched, reason))
            self._failing.add(task)
            task.add_done_callback(self._failing.discard)

    @staticmethod
    async def _read_errors(launched: LaunchedCluster, starts: StartFailures) -> None:
        for job_id in sorted(starts.unread):
            try:
                paths = launched.backend.job_log_files(launched.kwargs, job_id)
                files = await asyncio.to_thread(read_tails, paths, 16 * 1024) if paths else []
            except Exception:
                log.debug("Reading the log of job %s failed", job_id, exc_info=True)
                files = []
            texts = [f["text"] for f in reversed(files)]  # stderr first
            wrote_log = any(text for text in texts)
            starts.set_error(job_id, last_error_line(texts), wrote_log)
