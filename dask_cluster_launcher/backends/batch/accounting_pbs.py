"""Why a PBS job ended and what it used, from the server's record of finished jobs: PBS Pro's
and OpenPBS's ``qstat -x -f -F json <ids>`` (job history, state ``F``), Torque's ``qstat -f
<ids>`` (completed jobs kept for ``keep_completed`` seconds, state ``C``); one call per poll for
every job that left the queue. Sources in docs/batch-facts.md.

The exit status says why (PBS Professional Reference Guide, "Job Exit Status Codes"; Torque
Administrator Guide, "Job exit status"):

- ``0``: normal end; ``1``-``255``: the job script's exit status (``128 + n``: its command was
  killed by signal ``n``); over ``256``: the job's shell was killed by signal ``status - 256``
  (``qdel``: 271, SIGTERM);
- negative: PBS ended it. PBS Pro: ``-29`` walltime (``JOB_EXEC_KILL_WALLTIME``), ``-27``/``-26``
  mem/vmem (``JOB_EXEC_KILL_MEM``/``_VMEM``); Torque: ``-11`` walltime
  (``JOB_EXEC_OVERLIMIT_WT``), ``-10`` memory (``JOB_EXEC_OVERLIMIT_MEM``); others: the job
  could not be started or run.
"""

from __future__ import annotations

from datetime import datetime

from .accounting import AccountedJob, _sge_time, _with, end_reason
from .pbs_formats import json_blocks, pbs_bytes, pbs_seconds, text_blocks

#: Exit statuses PBS sets when it kills a job for its walltime or its memory: PBS Pro's
#: (``Exit_status``) and Torque's (``exit_status``; PBS Pro's -11 is a failed restart).
WALLTIME_KILLS = {"Exit_status": frozenset((-29,)), "exit_status": frozenset((-11,))}
MEMORY_KILLS = {"Exit_status": frozenset((-27, -26)), "exit_status": frozenset((-10,))}
#: job states of finished jobs: Torque's completed, PBS Pro's finished and moved (``-x``)
FINISHED = frozenset("CFX")


def _time(value: str) -> datetime | None:
    """PBS Pro's ``stime``/``obittime`` ("Mon Dec  7 03:10:00 2026") or Torque's epoch seconds
    (``start_time``, ``comp_time``)."""
    return _sge_time(value) if value.strip() else None


def _state(status: int | None, dialect: str) -> tuple[str, int | None, int | None]:
    """(state, exit code, signal) of an exit status (``dialect``: the attribute's name)."""
    if status is None:  # Torque keeps none for a job deleted while it waited
        return "CANCELLED", None, None
    if status in WALLTIME_KILLS[dialect]:
        return "TIMEOUT", None, None
    if status in MEMORY_KILLS[dialect]:
        return "OUT_OF_MEMORY", None, None
    if status < 0:
        return "FAILED", status, None  # PBS could not start or run it
    if status > 256:
        return "CANCELLED", None, status - 256  # qdel, or killed by someone: PBS does not say
    if status > 128:
        return "FAILED", None, status - 128
    return ("COMPLETED" if status == 0 else "FAILED"), status, None


def finished_jobs(blocks: object, owner: str) -> dict[str, AccountedJob]:
    """Finished jobs of ``owner`` among (job id, attributes) blocks, by sequence number."""
    jobs: dict[str, AccountedJob] = {}
    for job_id, attributes in blocks:  # type: ignore[attr-defined]
        if attributes.get("job_state") not in FINISHED:
            continue
        if attributes.get("Job_Owner", "").partition("@")[0] != owner:
            continue
        dialect = "Exit_status" if "Exit_status" in attributes else "exit_status"
        text = attributes.get(dialect, "").strip()
        status = int(text) if text.lstrip("-").isdigit() else None
        state, code, signal = _state(status, dialect)
        started = _time(attributes.get("stime", attributes.get("start_time", "")))
        ended = _time(attributes.get("obittime", attributes.get("comp_time", "")))
        used = pbs_seconds(attributes.get("resources_used.walltime", ""))
        cpus = attributes.get("Resource_List.ncpus", "")
        limit = pbs_seconds(attributes.get("Resource_List.walltime", ""))
        job = AccountedJob(
            job_id=job_id.partition(".")[0],
            state=state,
            exit_code=code,
            signal=signal,
            started_at=started,
            ended_at=ended,
            elapsed_seconds=int(used) if used is not None else (0 if not started else None),
            cores=int(cpus) if cpus.isdigit() else None,
            max_rss_bytes=pbs_bytes(attributes.get("resources_used.mem", "")),
            time_limit_seconds=int(limit) if limit is not None else None,
            memory_limit_bytes=pbs_bytes(attributes.get("Resource_List.mem", "")),
            job_name=attributes.get("Job_Name") or None,
        )
        reason = end_reason(job)
        if state == "FAILED" and code is not None and code < 0:
            reason = f"PBS could not run it (exit status {code})"
        jobs[job.job_id] = _with(job, reason=reason)
    return jobs


def parse_finished(text: str, owner: str) -> dict[str, AccountedJob]:
    """``qstat -x -f -F json`` (PBS Pro, OpenPBS) or ``qstat -f`` (Torque) output: the finished
    jobs of ``owner``, by sequence number."""
    if text.lstrip().startswith("{"):
        return finished_jobs(json_blocks(text, "Jobs"), owner)
    return finished_jobs(text_blocks(text), owner)
