"""Why an LSF job ended and what it used: ``bjobs -a -o "<BJOBS_ENDED_FIELDS>" -hms -json
<ids>``, one call per poll for every job that left the queue (IBM Spectrum LSF 10.1 command
reference, bjobs ``-a``, ``-o``, ``-hms``, ``-json``; see docs/batch-facts.md).

``bjobs -a`` lists finished jobs (DONE, EXIT) for ``CLEAN_PERIOD`` (one hour by default) after
they end, with their exit code and LSF's termination reason (the ``TERM_*`` words ``bacct`` and
``bhist -l`` print too): ``TERM_RUNLIMIT`` is the walltime, ``TERM_MEMLIMIT`` the memory limit,
``TERM_OWNER``/``TERM_ADMIN`` a ``bkill``. ``-hms`` prints times and durations as hh:mm:ss.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from .accounting import AccountedJob, _with, end_reason

#: bjobs's ``-o`` fields for ended jobs, read by :func:`parse_bjobs_ended`.
BJOBS_ENDED_FIELDS = (
    "jobid job_name stat exit_code exit_reason start_time finish_time run_time nalloc_slot "
    "max_mem memlimit runtimelimit"
)

#: LSF's termination reasons (``TERM_*``, and the words bjobs and bacct print with them) ->
#: the cluster model's states.
_TERMINATIONS = (
    (("TERM_RUNLIMIT", "run time limit"), "TIMEOUT"),
    (("TERM_MEMLIMIT", "memory limit"), "OUT_OF_MEMORY"),
    (("TERM_PREEMPT", "preempted"), "PREEMPTED"),
    (("TERM_OWNER", "TERM_ADMIN", "TERM_FORCE_", "killed by owner", "administrator"), "CANCELLED"),
    (("TERM_LOAD", "TERM_HOST", "host failure"), "NODE_FAIL"),
)

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def lsf_seconds(text: str) -> int | None:
    """A duration as bjobs prints it: ``00:01:05`` (``-hms``), ``65 second(s)``, ``1.0 min``."""
    text = (text or "").strip()
    if re.fullmatch(r"\d+(:\d+){1,2}", text):
        seconds = 0
        for part in text.split(":"):
            seconds = seconds * 60 + int(part)
        return seconds
    match = re.match(r"([\d.]+)\s*(second|sec|s\b|min|hour|h\b)?", text)
    if not match:
        return None
    value, unit = float(match.group(1)), (match.group(2) or "second")
    return int(value * (60 if unit.startswith("min") else 3600 if unit.startswith("h") else 1))


def lsf_bytes(text: str) -> int | None:
    """A size as bjobs prints it (``2 Mbytes``, ``100 MB``, ``512K``, ``-``)."""
    match = re.match(r"\s*([\d.]+)\s*([KMGT]?)", text or "", flags=re.IGNORECASE)
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()]) if match else None


def lsf_time(text: str, now: datetime | None = None) -> datetime | None:
    """bjobs's ``Dec  7 03:10:05`` (``-hms``) or ``Dec  7 03:10`` (no year: this year's, or
    last year's when that would lie ahead), with an estimate's trailing ``E``/``L``/``X``."""
    words = (text or "").split()
    if len(words) > 3 and len(words[-1]) == 1 and not words[-1].isdigit():
        words = words[:-1]  # an estimate's "L"/"E"/"X"
    if len(words) < 3:
        return None
    now = now or datetime.now().astimezone()
    clock = words[2] if words[2].count(":") == 2 else f"{words[2]}:00"
    year = words[3] if len(words) > 3 and words[3].isdigit() else str(now.year)
    try:
        when = datetime.strptime(f"{words[0]} {words[1]} {year} {clock}", "%b %d %Y %H:%M:%S")
    except ValueError:
        return None
    when = when.astimezone()
    if len(words) <= 3 and when > now:
        when = when.replace(year=when.year - 1)
    return when


def _state(stat: str, termination: str, exit_code: int | None) -> str:
    if stat == "DONE":
        return "COMPLETED"
    for words, state in _TERMINATIONS:
        if any(word.lower() in termination.lower() for word in words):
            return state
    return "FAILED"  # an exit code of its own, or a reason the launcher has no word for


def parse_bjobs_ended(out: str, now: datetime | None = None) -> dict[str, AccountedJob]:
    """``bjobs -a -o "<BJOBS_ENDED_FIELDS>" -hms -json``: job id -> job, ended jobs only (a
    job id bjobs does not know comes back as a record with ``ERROR``)."""
    try:
        records = json.loads(out).get("RECORDS", [])
    except ValueError:
        return {}
    jobs: dict[str, AccountedJob] = {}
    for record in records:
        stat = record.get("STAT", "")
        if "ERROR" in record or stat not in ("DONE", "EXIT"):
            continue
        code_text = str(record.get("EXIT_CODE") or "").strip()
        exit_code = int(code_text) if code_text.lstrip("-").isdigit() else 0
        termination = str(record.get("EXIT_REASON") or "").strip().strip("-")
        slots = str(record.get("NALLOC_SLOT") or "")
        started = lsf_time(record.get("START_TIME", ""), now)
        job = AccountedJob(
            job_id=str(record.get("JOBID", "")),
            state=_state(stat, termination, exit_code),
            exit_code=exit_code,
            # 128 + n: the job's shell reports its command killed by signal n
            signal=exit_code - 128 if 128 < exit_code < 160 else None,
            started_at=started,
            ended_at=lsf_time(record.get("FINISH_TIME", ""), now),
            elapsed_seconds=lsf_seconds(record.get("RUN_TIME", "")) if started else 0,
            cores=int(slots) if slots.isdigit() else None,
            max_rss_bytes=lsf_bytes(record.get("MAX_MEM", "")),
            time_limit_seconds=lsf_seconds(record.get("RUNTIMELIMIT", "")),
            memory_limit_bytes=lsf_bytes(record.get("MEMLIMIT", "")),
            job_name=record.get("JOB_NAME") or None,
        )
        jobs[job.job_id] = _with(job, reason=end_reason(job))
    return jobs
