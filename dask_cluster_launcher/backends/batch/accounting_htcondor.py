"""Why an HTCondor job ended and what it used: ``condor_history -constraint <these jobs>
-json -attributes <HISTORY_ATTRIBUTES>``, one call per poll for every job that left the queue
(HTCondor manual: condor_history, "Job ClassAd Attributes"; see docs/batch-facts.md).

A job leaves the queue for the history as Completed (``JobStatus`` 4: ``ExitCode``, or
``ExitBySignal`` with ``ExitSignal``) or Removed (3: ``RemoveReason``, "via condor_rm (by user
alice)"). A job that ran past its ``allowed_job_duration`` or its memory is put on hold first
(``HoldReasonCode`` 46 "JobDurationExceeded", 34 "memory usage exceeded"), then removed (by the
user or a site's ``SYSTEM_PERIODIC_REMOVE``): its history ad keeps the hold's code and reason.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .accounting import AccountedJob, _with, end_reason

HISTORY_ATTRIBUTES = (
    "ClusterId,ProcId,JobBatchName,JobStatus,ExitCode,ExitBySignal,ExitSignal,RemoveReason,"
    "HoldReason,HoldReasonCode,JobCurrentStartDate,CompletionDate,EnteredCurrentStatus,"
    "RemoteWallClockTime,RequestCpus,RequestMemory,MemoryUsage,AllowedJobDuration"
)
#: ``HoldReasonCode`` of a job held for running longer than ``allowed_job_duration`` (HTCondor
#: 9.4 and later; 47: ``allowed_execute_duration``) or for its memory.
DURATION_EXCEEDED = (46, 47)
MEMORY_EXCEEDED = 34


def history_constraint(owner: str, job_ids: list[str], names: list[str]) -> str:
    """The ClassAd constraint for these jobs (``<cluster>.<proc>`` ids) and batch names."""
    terms = []
    for job_id in job_ids:
        cluster, _, proc = job_id.partition(".")
        if cluster.isdigit() and (proc or "0").isdigit():
            terms.append(f"(ClusterId == {cluster} && ProcId == {proc or 0})")
    terms += [f'JobBatchName =?= "{name}"' for name in names]
    return f'Owner =?= "{owner}" && ({" || ".join(terms) or "false"})'


def _epoch(value: Any) -> datetime | None:
    return (
        datetime.fromtimestamp(value).astimezone()
        if isinstance(value, int | float) and value
        else None
    )


def _state(ad: dict[str, Any]) -> tuple[str, int | None, int | None]:
    """(state, exit code, signal) of a history ad."""
    hold = ad.get("HoldReasonCode")
    if hold in DURATION_EXCEEDED:
        return "TIMEOUT", None, None
    if hold == MEMORY_EXCEEDED:
        return "OUT_OF_MEMORY", None, None
    if ad.get("JobStatus") == 3:
        return "CANCELLED", None, None
    if ad.get("ExitBySignal"):
        return "FAILED", None, ad.get("ExitSignal")
    code = ad.get("ExitCode")
    return ("COMPLETED" if not code else "FAILED"), code, None


def parse_condor_history(out: str) -> dict[str, AccountedJob]:
    """``condor_history ... -json``: ``<cluster>.<proc>`` -> job (nothing printed when no job
    matches)."""
    jobs: dict[str, AccountedJob] = {}
    for ad in json.loads(out) if out.strip() else []:
        if ad.get("JobStatus") not in (3, 4):
            continue
        state, code, signal = _state(ad)
        started = _epoch(ad.get("JobCurrentStartDate"))
        wall = ad.get("RemoteWallClockTime")
        duration, memory = ad.get("AllowedJobDuration"), ad.get("RequestMemory")
        usage = ad.get("MemoryUsage")
        job = AccountedJob(
            job_id=f"{ad.get('ClusterId')}.{ad.get('ProcId', 0)}",
            state=state,
            exit_code=code,
            signal=signal,
            started_at=started,
            # a removed job has no CompletionDate (0): it ended when it entered its status
            ended_at=_epoch(ad.get("CompletionDate")) or _epoch(ad.get("EnteredCurrentStatus")),
            elapsed_seconds=int(wall) if isinstance(wall, int | float) else 0,
            cores=ad.get("RequestCpus"),
            max_rss_bytes=int(usage * 2**20) if isinstance(usage, int | float) else None,
            time_limit_seconds=int(duration) if isinstance(duration, int | float) else None,
            memory_limit_bytes=int(memory * 2**20) if isinstance(memory, int | float) else None,
            job_name=ad.get("JobBatchName"),
        )
        reason = end_reason(job)
        if state == "CANCELLED" and ad.get("RemoveReason"):
            reason = f"removed {ad['RemoveReason']}"  # "via condor_rm (by user alice)"
        jobs[job.job_id] = _with(job, reason=reason)
    return jobs
