"""Batch jobs that end before their worker joins, kept on the card with why, and when that
means the cluster failed.

The batch system forgets an ended job (``squeue`` lists it a few minutes at most, ``qstat``
not at all), and a worker that crashed at start never reached the scheduler: without this,
such a job vanished from the card and the cluster looked fine with 0 workers. Here each
cluster's jobs are followed from poll to poll: a job whose worker never joined and that ended
after it started to run (not one cancelled while it waited, as scaling down does) stays listed
with its final state (``ENDED`` where the batch system no longer says), its exit code and the
last error line of its log.

The cluster has failed to start (see ``StartFailures.verdict``) when no worker has ever joined
and either every job it submitted ended that way, or ``IDENTICAL_FAILURES`` jobs ended with
the same error (the others would: a missing interface, a wrong Python). Nothing resubmits a job
that never ran a worker (dask-jobqueue keeps its place in the cluster's spec), so a failed
start is final: the manager stops the cluster and shows the reason.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .backends.batch.queues import ENDED_STATES

#: Ended without running (taken back while it waited): not a failure to show.
_WITHDRAWN = frozenset(("CANCELLED", "PREEMPTED", "DEADLINE", "REVOKED", "REMOVED"))
#: States of a job that waits for its turn (SLURM's words, and SGE's as the backend maps them).
_WAITING = frozenset(("PENDING", "HELD", "REQUEUED", "REQUEUE_HOLD", "ERROR"))
#: The state of a job the batch system no longer lists.
VANISHED = "ENDED"
#: Jobs ending with the same error before any worker joined that make the start a failure.
IDENTICAL_FAILURES = 3
#: Ended jobs kept on a card (the most recent).
KEPT_ENDED = 20

Row = dict[str, Any]


def job_row(row: Row) -> Row:
    """A job row with every field of the model (see schema/model/cluster.yaml)."""
    return {
        "job_id": row["job_id"],
        "state": row["state"],
        "reason": row.get("reason"),
        "host": row.get("host"),
        "time_left": row.get("time_left"),
        "estimated_start": row.get("estimated_start"),
        "exit_code": row.get("exit_code"),
        "error": row.get("error"),
    }


@dataclass
class StartFailures:
    """One cluster's jobs from poll to poll (see the module's docstring)."""

    #: Jobs a worker joined from (once seen, for good), and whether any worker ever joined
    #: (an MPI job's workers name no job).
    joined: set[str] = field(default_factory=set)
    had_workers: bool = False
    #: Jobs listed at the last poll, by id, and whether each has run.
    listed: dict[str, Row] = field(default_factory=dict)
    ran: set[str] = field(default_factory=set)
    #: Jobs that ended before their worker joined, oldest first.
    ended: OrderedDict[str, Row] = field(default_factory=OrderedDict)
    #: Ended jobs whose log has not been read yet (see ``set_error``).
    unread: set[str] = field(default_factory=set)
    #: Jobs gone from the queue that no poll saw run: a fast crash between two polls (Grid
    #: Engine, PBS and LSF forget a job at once) or a job taken back while it waited. Its log
    #: tells which (``set_error``): only a job that ran wrote one.
    unsure: dict[str, Row] = field(default_factory=dict)
    #: Every job id ever listed (the jobs of the launch so far).
    submitted: set[str] = field(default_factory=set)
    #: The verdict was acted on (the cluster is being failed).
    reported: bool = False

    def update(self, polled: list[Row], worker_jobs: Iterable[str | None]) -> list[Row]:
        """Take a poll's rows and the job ids the cluster's workers run in; returns the rows
        the card shows (``rows``). Ended rows wait for their log's error line (``unread``,
        ``set_error``)."""
        worker_jobs = list(worker_jobs)
        self.had_workers = self.had_workers or bool(worker_jobs)
        self.joined.update(job for job in worker_jobs if job)
        live: list[Row] = []
        now: dict[str, Row] = {}
        for row in map(job_row, polled):
            job_id = row["job_id"]
            self.submitted.add(job_id)
            now[job_id] = row
            if row["state"] in ENDED_STATES:
                self._ended(row)
                continue
            if row["state"] not in _WAITING:
                self.ran.add(job_id)
            live.append(row)
        for job_id, last in self.listed.items():
            if job_id not in now and job_id not in self.ended:
                self._ended({**last, "state": VANISHED, "time_left": None, "estimated_start": None})
        self.listed = {row["job_id"]: row for row in live}
        return self.rows()

    def _ended(self, row: Row) -> None:
        job_id = row["job_id"]
        if job_id in self.joined or job_id in self.ended:
            return  # its worker ran (a walltime, a scale-down): the worker table told it
        if row["state"] in _WITHDRAWN:
            return  # taken back before it ran
        if row["state"] == VANISHED and job_id not in self.ran:
            self.unsure[job_id] = {**row, "time_left": None, "error": None}
            self.unread.add(job_id)
            return
        self._keep(job_id, {**row, "time_left": None, "estimated_start": None, "error": None})
        self.unread.add(job_id)

    def _keep(self, job_id: str, row: Row) -> None:
        self.ended[job_id] = row
        while len(self.ended) > KEPT_ENDED:
            self.unread.discard(self.ended.popitem(last=False)[0])

    def set_error(self, job_id: str, error: str | None, wrote_log: bool = True) -> None:
        """The last error line of an ended job's log (None: its log says none), and whether
        the job wrote a log at all (one that vanished unseen and wrote none never ran)."""
        self.unread.discard(job_id)
        unsure = self.unsure.pop(job_id, None)
        if unsure is not None and wrote_log:
            self._keep(job_id, unsure)  # it ran after all: between two polls
        row = self.ended.get(job_id)
        if row is not None:
            self.ended[job_id] = {**row, "error": error}

    def rows(self) -> list[Row]:
        """What the card shows: live jobs, then those that ended before their worker joined."""
        return list(self.listed.values()) + list(self.ended.values())

    def verdict(self) -> str | None:
        """Why the cluster failed to start, or None while it may still start."""
        if self.had_workers or not self.ended or self.unread:
            return None
        errors = [row["error"] or _ended_text(row) for row in self.ended.values()]
        same = max(errors.count(error) for error in errors)
        every_job = not self.listed and self.submitted <= set(self.ended)
        if not every_job and same < IDENTICAL_FAILURES:
            return None
        last = next(reversed(self.ended.values()))
        what = (
            f"all {len(self.ended)} batch jobs"
            if every_job and len(self.ended) > 1
            else "its batch job"
            if every_job
            else f"{len(self.ended)} batch jobs"
        )
        # the error first: a notification shows the first ~140 characters
        return (
            f"{last['error'] or _ended_text(last)} ({what} ended before a worker joined; "
            f"the log of job {last['job_id']} has the rest)"
        )


def _ended_text(row: Row) -> str:
    code = row.get("exit_code")
    exit_text = f", exit code {code}" if code is not None else ""
    return f"{row['state']}{exit_text}"
