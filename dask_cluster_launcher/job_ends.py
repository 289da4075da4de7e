"""Why each batch job ended, from the batch system's accounting, one batched call per poll.

The queue (``squeue``, ``qstat``) says a job is gone; the accounting (``sacct``, ``qacct``: see
``backends/batch/accounting.py``) says why. Each poll, the jobs that left the queue since the
previous poll (an ended state, or no longer listed) wait here until the accounting knows them,
asked about in ONE ``account_jobs`` call per backend for every cluster (never per job), at most
``TRIES`` polls (the batch system writes its record a moment after the job ends).

What the card gets (``JobEnds.rows``):

- every job row the card shows gets its ``end`` (state, reason in words, exit code, end time)
  once accounted: jobs that ended before their worker joined (``job_starts``) say why;
- a job whose worker had joined and that ended unexpectedly (walltime, memory, node failure,
  an error: ``UNEXPECTED``) stays listed with its end, the ``KEPT`` most recent per cluster. A job
  that ended because the launcher let its worker go (scale-down: CANCELLED; a worker lifetime:
  COMPLETED) leaves the card as before: its worker's departure was asked for.

The sidebar notifies the user of an unexpected end when such a row appears (see
``src/jobEnds.ts``).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .backends.batch.accounting import AccountedJob, end_reason
from .backends.batch.jobqueue import job_name
from .backends.batch.queues import ENDED_STATES
from .changes import JobEnd
from .job_starts import job_row

log = logging.getLogger("dask_cluster_launcher.manager")

#: Polls a job that left the queue is asked about before it is given up (no accounting).
TRIES = 10
#: Polls that may look for a starting cluster's jobs by name (see ``observe``).
LOOKS = 10
#: States of a job waiting for its turn (SLURM's, and Grid Engine's as the backend maps them).
WAITING_STATES = frozenset(("PENDING", "HELD", "REQUEUED", "REQUEUE_HOLD"))
#: Unexpectedly ended jobs kept on a card after their worker had joined (the most recent).
KEPT = 20
#: Accounted states of a job that ended for a reason of the batch system's or its own.
UNEXPECTED = frozenset(
    ("TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "FAILED", "PREEMPTED", "BOOT_FAIL", "DEADLINE")
)

#: What slurmstepd writes in a job's log when it kills the job for memory without cgroups
#: (``JobAcctGatherParams=OverMemoryKill``), for the job or for one step ("StepId=N.batch
#: exceeded memory limit (USED > LIMIT), being killed"), lower-cased: the accounting says
#: FAILED by SIGKILL, and the peak it sampled before the kill may be under the limit.
SLURM_MEMORY_KILLS = ("exceeded job memory limit", "exceeded memory limit")

Row = dict[str, Any]


def memory_kill_end(job: AccountedJob) -> JobEnd:
    """The end of a job SIGKILLed for memory, as its log says it was."""
    killed = replace(job, state="OUT_OF_MEMORY")
    return job_end(replace(killed, reason=end_reason(killed)))


def job_end(job: AccountedJob) -> JobEnd:
    return {
        "state": job.state,
        "reason": job.reason,
        "exit_code": job.exit_code,
        "ended_at": job.ended_at.isoformat() if job.ended_at else None,
    }


@dataclass
class _Cluster:
    #: Jobs the last poll listed as not ended.
    live: dict[str, str] = field(default_factory=dict)
    #: Jobs that left the queue and are not accounted yet -> polls left to ask, and when
    #: they left it (a batch system that writes its records late is asked until then).
    waiting: dict[str, int] = field(default_factory=dict)
    left_at: dict[str, float] = field(default_factory=dict)
    #: Accounted ends, by job id (pruned to the rows shown).
    ends: dict[str, JobEnd] = field(default_factory=dict)
    #: Rows kept for jobs whose worker had joined and that ended unexpectedly.
    kept: OrderedDict[str, Row] = field(default_factory=OrderedDict)
    #: Looking for jobs the queue never listed (a starting cluster with nothing listed), and
    #: how many more polls may look; the ended jobs found that way, as queue rows.
    looking: bool = False
    looks_left: int = LOOKS
    found: dict[str, Row] = field(default_factory=dict)
    #: Ends of SIGKILLed jobs had their log said they were killed for memory.
    memory_kills: dict[str, JobEnd] = field(default_factory=dict)


class JobEnds:
    """The accounted ends of every watched cluster's jobs (see the module's docstring)."""

    def __init__(self) -> None:
        self._clusters: dict[str, _Cluster] = {}
        #: Accounting calls made, for tests and measurements (one per backend and poll at most).
        self.calls = 0

    def forget(self, cluster_ids: Iterable[str]) -> None:
        for cluster_id in cluster_ids:
            self._clusters.pop(cluster_id, None)

    def known(self) -> set[str]:
        return set(self._clusters)

    def observe(self, cluster_id: str, polled: list[Row], starting: bool = False) -> None:
        """Note the jobs of this poll that left the queue since the last one. A ``starting``
        cluster (no worker yet) with no job listed looks for its jobs by name in the same
        accounting call: a Grid Engine job that crashed between two polls was never listed."""
        cluster = self._clusters.setdefault(cluster_id, _Cluster())
        cluster.looking = starting and not polled and not cluster.found and cluster.looks_left > 0
        cluster.looks_left -= cluster.looking
        live = {row["job_id"]: row["state"] for row in polled if row["state"] not in ENDED_STATES}
        ended = {row["job_id"] for row in polled if row["state"] in ENDED_STATES}
        for job_id in (set(cluster.live) - set(live)) | ended:
            if job_id not in cluster.ends and job_id not in cluster.waiting:
                # a job taken back while it waited has no record in Grid Engine's accounting:
                # asked about twice (it may have run and ended between two polls)
                withdrawn = cluster.live.get(job_id) in WAITING_STATES
                cluster.waiting[job_id] = 2 if withdrawn else TRIES
                if not withdrawn:
                    cluster.left_at[job_id] = time.monotonic()
        cluster.live = live

    async def account(self, backend: Any, cluster_ids: list[str]) -> dict[str, AccountedJob]:
        """Ask ``backend`` once about every job of these clusters that waits for its
        accounting; returns what it said (job id -> job) for others to use (usage)."""
        by_name = {job_name(c): self._clusters[c] for c in cluster_ids if c in self._clusters}
        clusters = list(by_name.values())
        job_ids = sorted({job_id for cluster in clusters for job_id in cluster.waiting})
        names = [name for name, cluster in by_name.items() if cluster.looking]
        if not job_ids and not names:
            return {}
        if not getattr(backend, "keeps_accounting", False):
            for cluster in clusters:
                cluster.waiting.clear()
            return {}
        self.calls += 1
        try:
            accounted: dict[str, AccountedJob] = await backend.account_jobs(job_ids, names)
        except Exception:
            # a site without accounting (sacct: "Slurm accounting storage is disabled"):
            # these jobs end without a reason rather than wait
            log.debug("Reading the accounting of jobs %s failed", job_ids, exc_info=True)
            for cluster in clusters:
                cluster.waiting.clear()
            return {}
        for cluster in clusters:
            for job_id in list(cluster.waiting):
                job = accounted.get(job_id)
                # slurmdbd may not have the job's end yet (PENDING, RUNNING), or not its exit
                # code ("failed", no code, seen once in CI): asked again, the last time taken
                unsure = job is not None and _bare_failure(job) and cluster.waiting[job_id] > 1
                if job is not None and job.state in ENDED_STATES and not unsure:
                    del cluster.waiting[job_id]
                    cluster.ends[job_id] = end = job_end(job)
                    if job.state == "FAILED" and job.signal == 9:
                        cluster.memory_kills[job_id] = memory_kill_end(job)
                    if job.state in UNEXPECTED:
                        cluster.kept[job_id] = _ended_row(job_id, end)
                        while len(cluster.kept) > KEPT:
                            cluster.kept.popitem(last=False)
                else:
                    cluster.waiting[job_id] -= 1
                    if cluster.waiting[job_id] <= 0 and not _record_may_come(
                        cluster, job_id, backend
                    ):
                        del cluster.waiting[job_id]  # the accounting does not know it
            cluster.left_at = {j: t for j, t in cluster.left_at.items() if j in cluster.waiting}
        for job_id, job in accounted.items():
            owner = by_name.get(job.job_name or "")
            new = owner is not None and owner.looking and job_id not in owner.ends
            if owner is not None and new and job.state in ENDED_STATES:
                owner.ends[job_id] = end = job_end(job)
                if job.state == "FAILED" and job.signal == 9:
                    owner.memory_kills[job_id] = memory_kill_end(job)
                owner.found[job_id] = _ended_row(job_id, end)
        return accounted

    def found(self, cluster_id: str) -> list[Row]:
        """Ended jobs of a starting cluster the queue never listed, as the queue's rows (for
        ``job_starts``: they ran, their worker never joined)."""
        cluster = self._clusters.get(cluster_id)
        return list(cluster.found.values()) if cluster is not None else []

    def settled(self, cluster_id: str) -> bool:
        """No job of the cluster's waits for its accounting (a failed start is declared
        once its jobs' ends are known, so that the card shows them)."""
        cluster = self._clusters.get(cluster_id)
        return cluster is None or not cluster.waiting

    def rows(self, cluster_id: str, rows: list[Row]) -> list[Row]:
        """The card's job rows with their accounted ``end``, and the kept rows of jobs whose
        worker had joined and that ended unexpectedly."""
        cluster = self._clusters.get(cluster_id)
        if cluster is None:
            return [{**row, "end": None} for row in rows]
        shown = [{**row, "end": _end_of(cluster, row)} for row in rows]
        listed = {row["job_id"] for row in rows}
        for job_id in listed:
            cluster.kept.pop(job_id, None)  # the start failures' own row tells it
        shown += list(cluster.kept.values())
        keep = listed | set(cluster.kept) | set(cluster.live)
        cluster.ends = {job_id: end for job_id, end in cluster.ends.items() if job_id in keep}
        cluster.memory_kills = {
            job_id: end for job_id, end in cluster.memory_kills.items() if job_id in keep
        }
        return shown


def _bare_failure(job: AccountedJob) -> bool:
    """A failed job's record that says no more than "failed" (no exit code, signal or
    batch system's words): slurmdbd gave one once before the job's exit code reached it."""
    return job.state == "FAILED" and job.reason == "failed"


def _record_may_come(cluster: _Cluster, job_id: str, backend: Any) -> bool:
    """Whether a job's record may still be written (Grid Engine flushes its accounting file
    every 15 s by default: a job over in a moment has no record for that long)."""
    left = cluster.left_at.get(job_id)
    delay = getattr(backend, "accounting_delay", 0.0)
    return left is not None and time.monotonic() - left < delay


def _end_of(cluster: _Cluster, row: Row) -> JobEnd | None:
    """A row's accounted end; killed for memory where its log says slurmstepd killed it so."""
    end = cluster.ends.get(row["job_id"])
    error = (row.get("error") or "").lower()
    if end is not None and any(words in error for words in SLURM_MEMORY_KILLS):
        return cluster.memory_kills.get(row["job_id"], end)
    return end


def _ended_row(job_id: str, end: JobEnd) -> Row:
    row = job_row({"job_id": job_id, "state": end["state"], "exit_code": end["exit_code"]})
    return {**row, "end": end}
