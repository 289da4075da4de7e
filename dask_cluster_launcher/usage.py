"""What a batch cluster used: core-hours and GPU-hours, live while it runs, exact once its jobs
are accounted.

Pure accumulation, no I/O: ``UsageMeter.observe`` takes each poll's job rows (``squeue``,
``qstat``: a running job's start time and allocated cores), ``UsageMeter.account`` takes the
batch system's accounting (``sacct``, ``qacct``: see ``backends/batch/accounting.py``), and
``UsageMeter.usage`` answers the cluster model's ``usage``.

Live, a job counts its allocated cores x the time since it started (where the batch system
gives no start time, as PBS, LSF and HTCondor rows here, since the first poll that saw it run);
one that left the queue between two polls counts up to the last poll that saw it run, until
accounting says exactly.
``final`` is true once the cluster stopped and every job it had is accounted as ended.

Publishing grows with changes, not with the cluster's size: ``UsagePublication.due`` lets a
new value through when it differs from the last one shown by a visible amount, and then at
most every ``PUBLISH_SECONDS``.

Only batch clusters have a usage (null in the model for local, CUDA, Saturn, Gateway and
existing clusters: their resources are the server's or a service's, which bills by its own
rules).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .backends.batch.accounting import AccountedJob
from .backends.batch.queues import walltime_seconds

#: The least time between two published usages of a running cluster.
PUBLISH_SECONDS = 10.0
#: States of an accounted job that has not ended (SLURM's, and Grid Engine's as mapped).
_NOT_ENDED = frozenset(
    ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "REQUEUED", "RESIZING")
)


class Usage(TypedDict):
    """The cluster model's ``usage`` (``IUsage`` in ``src/clusterModel.ts``)."""

    core_hours: float
    gpu_hours: float
    #: Every job is accounted as ended: the numbers are the batch system's own.
    final: bool
    #: The most the cluster's jobs can use in one walltime at its current size (jobs x cores
    #: x walltime, the launch summary's "up to"); null where unknown.
    most_core_hours: float | None
    #: The site's warning threshold for this backend (``usage_warning_core_hours``); null: none.
    warning_core_hours: float | None


@dataclass
class JobUsage:
    """One job's share: allocated cores and GPUs, and when it ran."""

    cores: int
    gpus: int = 0
    started_at: float | None = None
    #: When it ended (the batch system's end time), or the last poll that saw it run.
    until: float | None = None
    running: bool = False
    #: Exact elapsed seconds from accounting, once the job is accounted as ended.
    accounted: float | None = None

    def seconds(self, now: float) -> float:
        if self.accounted is not None:
            return self.accounted
        if self.started_at is None:
            return 0.0
        end = now if self.running else (self.until or self.started_at)
        return max(0.0, end - self.started_at)


@dataclass
class UsageMeter:
    """One cluster's jobs and what they used (see the module's docstring)."""

    #: Cores and GPUs per job as asked, for rows that do not say what was allocated.
    cores_per_job: int
    gpus_per_job: int = 0
    jobs: dict[str, JobUsage] = field(default_factory=dict)
    #: The cluster stopped: no job of it will start any more.
    closed: bool = False

    def observe(self, rows: Iterable[Mapping[str, Any]], now: float) -> None:
        """A poll's job rows: ``job_id``, ``state``, and where known ``started_at`` (epoch
        seconds), ``ended_at``, ``cores``, ``gpus``. Jobs missing from the poll stopped
        running at the last poll that saw them."""
        seen = set()
        for row in rows:
            job_id = str(row["job_id"])
            seen.add(job_id)
            job = self.jobs.get(job_id)
            if job is None:
                job = self.jobs[job_id] = JobUsage(self.cores_per_job, self.gpus_per_job)
            if row.get("cores"):
                job.cores = int(row["cores"])
            if row.get("gpus") is not None:
                job.gpus = int(row["gpus"])
            if row.get("started_at") is not None:
                job.started_at = float(row["started_at"])
            elif job.started_at is None and row.get("state") == "RUNNING":
                job.started_at = now  # a batch system that gives no start: the first poll
            job.running = row.get("state") == "RUNNING" and job.started_at is not None
            if job.running:
                job.until = now
            elif row.get("ended_at") is not None:
                job.until = float(row["ended_at"])
        for job_id, job in self.jobs.items():
            if job_id not in seen:
                job.running = False

    def account(self, accounted: Iterable[AccountedJob]) -> None:
        """The batch system's accounting of jobs of this cluster's (others are ignored, except
        one that ran and ended between two polls: it is the cluster's if asked for)."""
        for row in accounted:
            job = self.jobs.get(row.job_id)
            if job is None:
                job = self.jobs[row.job_id] = JobUsage(self.cores_per_job, self.gpus_per_job)
            if row.cores:
                job.cores = int(row.cores)
            if row.gpus is not None:
                job.gpus = int(row.gpus)
            if row.state.upper() not in _NOT_ENDED and row.elapsed_seconds is not None:
                job.accounted = float(row.elapsed_seconds)
                job.running = False

    def never_ran(self, accounted: Iterable[str]) -> None:
        """Jobs the accounting does not know and no poll saw run used nothing: Grid Engine
        keeps no record of a job deleted while it waited (a stopped cluster's queued jobs)."""
        known = set(accounted)
        for job_id, job in self.jobs.items():
            if job.accounted is None and job.started_at is None and job_id not in known:
                job.accounted = 0.0

    def unaccounted(self) -> list[str]:
        """Jobs whose use is not known exactly yet (to ask the accounting about)."""
        return [job_id for job_id, job in self.jobs.items() if job.accounted is None]

    @property
    def final(self) -> bool:
        return self.closed and not self.unaccounted()

    def usage(
        self,
        now: float,
        most_core_hours: float | None = None,
        warning_core_hours: float | None = None,
    ) -> Usage:
        core_seconds = sum(job.cores * job.seconds(now) for job in self.jobs.values())
        gpu_seconds = sum(job.gpus * job.seconds(now) for job in self.jobs.values())
        return Usage(
            core_hours=round(core_seconds / 3600, 4),
            gpu_hours=round(gpu_seconds / 3600, 4),
            final=self.final,
            most_core_hours=most_core_hours,
            warning_core_hours=warning_core_hours,
        )


def shown_hours(hours: float) -> str:
    """Hours as the sidebar writes them (``src/usage.ts`` ``formatUsageHours``): two decimals
    below 10, one below 1000, whole hours above."""
    if hours < 10:
        return f"{hours:.2f}"
    if hours < 1000:
        return f"{hours:.1f}"
    return f"{round(hours):,}"


@dataclass
class UsagePublication:
    """When a cluster's changing usage is worth publishing (see the module's docstring)."""

    shown: tuple[str, str, bool] | None = None
    at: float = -math.inf

    def due(self, usage: Usage, now: float) -> bool:
        shown = (shown_hours(usage["core_hours"]), shown_hours(usage["gpu_hours"]), usage["final"])
        if shown == self.shown:
            return False
        first_or_final = self.shown is None or usage["final"]
        if not first_or_final and now - self.at < PUBLISH_SECONDS:
            return False
        self.shown, self.at = shown, now
        return True


def most_core_hours(kwargs: Mapping[str, Any], jobs: int) -> float | None:
    """The most ``jobs`` jobs of this cluster can use: jobs x cores x walltime (the launch
    summary's "up to ... core-hours"); None without cores or walltime."""
    cores, walltime = kwargs.get("cores"), kwargs.get("walltime")
    if not cores or not walltime:
        return None
    try:
        seconds = walltime_seconds(str(walltime))
    except ValueError:
        return None
    return round(jobs * int(cores) * seconds / 3600, 4)
