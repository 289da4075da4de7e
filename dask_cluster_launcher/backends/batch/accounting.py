"""Why a batch job ended, from the batch system's accounting: one batched call per poll.

``squeue`` and ``qstat`` forget a job soon after it ends (Grid Engine at once); the accounting
keeps its final state, exit code, signal, times, allocation and peak memory. The watcher asks,
once per poll and backend, about every job that left the queue since the last poll
(``JobQueueBackend.account_jobs``); the readers here turn each system's answer into
:class:`AccountedJob` rows:

- SLURM: ``sacct -j a,b,c --parsable2 --noheader -o SACCT_FIELDS`` (:func:`parse_sacct`), the
  ``.batch``/``.extern``/step lines folded into their job;
- Grid Engine: ``qacct -j <name pattern>`` (:func:`parse_qacct`), one call for every job of the
  clusters asked about (qacct reads its accounting file once whatever it is asked).

:func:`end_reason` says in words why a job ended ("reached its walltime (00:01:00)").
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime

from .queues import hms

#: sacct's columns for :func:`parse_sacct`.
SACCT_FIELDS = (
    "JobID,State,ExitCode,Start,End,ElapsedRaw,AllocCPUS,AllocTRES,MaxRSS,Reason,"
    "TimelimitRaw,ReqMem"
)


@dataclass(frozen=True)
class AccountedJob:
    """A job that ended, as its batch system's accounting tells it."""

    job_id: str
    #: SLURM's words (COMPLETED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED, FAILED,
    #: PREEMPTED, ...); the other systems' records are mapped onto them.
    state: str
    #: Why it ended, in words (see ``end_reason``).
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    #: Aware datetimes (the batch system's local time); ``None`` for a job that never ran.
    started_at: datetime | None = None
    ended_at: datetime | None = None
    elapsed_seconds: int | None = None
    #: CPUs (SLURM, PBS, HTCondor) or slots (Grid Engine, LSF) allocated; GPUs from the
    #: allocated GRES.
    cores: int | None = None
    gpus: int = 0
    max_rss_bytes: int | None = None
    #: What the job asked for, where the accounting says (for the reason in words).
    time_limit_seconds: int | None = None
    memory_limit_bytes: int | None = None
    #: The job's name, where the reader has it (Grid Engine's ``jobname``).
    job_name: str | None = None


# --- SLURM ---------------------------------------------------------------------------------------
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


def memory_bytes(text: str) -> int | None:
    """sacct's and qacct's sizes ("123456K", "1000M", "1.5G", "4Gn", "0.000B", "3.367MB")
    in bytes."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGTP]?)B?[nc]?\s*", text)
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def local_time(text: str) -> datetime | None:
    """sacct's ``2026-12-07T03:10:00`` (local time, no zone) as an aware datetime."""
    try:
        return datetime.fromisoformat(text.strip()).astimezone()
    except ValueError:
        return None  # "Unknown", "None": never started or still running


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _gpus(tres: str) -> int:
    count = 0
    for item in filter(None, tres.split(",")):
        name, _, value = item.partition("=")
        if name == "gres/gpu" and value.isdigit():
            count += int(value)
    return count


def parse_sacct(out: str) -> dict[str, AccountedJob]:
    """``sacct --parsable2 --noheader -o SACCT_FIELDS`` -> job id -> job. A step's peak memory
    counts for its job, and a step killed for memory makes its job OUT_OF_MEMORY: with cgroups
    SLURM marks the step OUT_OF_MEMORY (the job line may say FAILED or CANCELLED); without
    (``JobAcctGatherParams=OverMemoryKill``) the job ends FAILED by SIGKILL with a peak at its
    ``--mem`` (a job whose steps are not recorded yet is left out, see the end)."""
    jobs: dict[str, AccountedJob] = {}
    peak: dict[str, int] = {}
    out_of_memory: set[str] = set()
    killed: set[str] = set()
    for line in out.splitlines():
        fields = line.split("|")
        if len(fields) < 12:
            continue
        job_id, state, exit_code, start, end, elapsed, cpus, tres, rss, reason, limit, mem = fields[
            :12
        ]
        state = state.split(" ")[0]  # "CANCELLED by 1000"
        main, _, step = job_id.partition(".")
        if step:
            rss_bytes = memory_bytes(rss)
            if rss_bytes is not None:
                peak[main] = max(peak.get(main, 0), rss_bytes)
            if state == "OUT_OF_MEMORY":
                out_of_memory.add(main)
            if exit_code.endswith(":9"):
                killed.add(main)
            continue
        code, _, signal = exit_code.partition(":")
        limit_minutes = _int(limit)
        jobs[main] = AccountedJob(
            job_id=main,
            state=state,
            reason=None if reason in ("", "None") else reason,
            exit_code=_int(code),
            signal=_int(signal) or None,
            started_at=local_time(start),
            ended_at=local_time(end),
            elapsed_seconds=_int(elapsed),
            cores=_int(cpus),
            gpus=_gpus(tres),
            max_rss_bytes=None,
            time_limit_seconds=limit_minutes * 60 if limit_minutes is not None else None,
            memory_limit_bytes=memory_bytes(mem),
        )
    for job_id, job in jobs.items():
        most, asked = peak.get(job_id), job.memory_limit_bytes
        over = bool(most and asked and most >= 0.95 * asked)
        sigkill = job.signal == 9 or job_id in killed
        oom = job.state in ("FAILED", "CANCELLED") and (
            job_id in out_of_memory or (over and sigkill)
        )
        jobs[job_id] = _with(
            job,
            state="OUT_OF_MEMORY" if oom else job.state,
            max_rss_bytes=peak.get(job_id),
        )
    # a job SIGKILLed whose steps' peak is not recorded yet may still turn out killed for
    # memory: left out (asked about again at the next poll) until slurmdbd has its steps
    return {
        job_id: _with(job, reason=end_reason(job))
        for job_id, job in jobs.items()
        if not (job.signal == 9 and job.state == "FAILED" and job.max_rss_bytes is None)
    }


def _with(job: AccountedJob, **changes: object) -> AccountedJob:
    return replace(job, **changes)  # type: ignore[arg-type]


# --- Grid Engine -------------------------------------------------------------------------------
#: qacct's ``failed`` codes that mean the qmaster or execd enforced a limit.
_SGE_LIMIT_FAILURES = {"37", "40"}


def _sge_time(text: str) -> datetime | None:
    """qacct's "Mon Dec  7 02:57:53 2026", or the accounting file's epoch seconds."""
    if text.strip().isdigit():
        epoch = int(text)  # 0: never started
        if not epoch:
            return None
        return datetime.fromtimestamp(epoch / 1000 if epoch > 10**11 else epoch).astimezone()
    try:
        return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y").astimezone()
    except ValueError:
        return None


def _sge_seconds(text: str) -> int | None:
    """qacct's ``ru_wallclock`` ("61s", "61", "61.000s") in whole seconds."""
    match = re.fullmatch(r"\s*([\d.]+)s?\s*", text)
    return int(float(match.group(1))) if match else None


def _category_limit(category: str, key: str) -> str | None:
    """A request of qacct's ``category`` ("-l h_rt=60,h_vmem=1G -pe smp 2")."""
    match = re.search(rf"(?:^|[ ,]){key}=([^ ,]+)", category)
    return match.group(1) if match else None


def _walltime_seconds(value: str | None) -> int | None:
    if not value:
        return None
    if ":" in value:
        parts = [int(p or 0) for p in value.split(":")]
        while len(parts) < 3:
            parts.insert(0, 0)
        return parts[0] * 3600 + parts[1] * 60 + parts[2]
    return int(float(value)) if value.replace(".", "", 1).isdigit() else None


def parse_qacct(out: str) -> dict[str, AccountedJob]:
    """``qacct -j ...`` (records split by lines of ``=``) -> job id -> job. Grid Engine has no
    TIMEOUT state: a job killed (exit 137) after running at least its ``h_rt`` reached its
    walltime, one whose ``maxvmem`` reached its ``h_vmem`` was killed for memory."""
    jobs: dict[str, AccountedJob] = {}
    for record in re.split(r"^=+\s*$", out, flags=re.MULTILINE):
        fields: dict[str, str] = {}
        for line in record.splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                fields[key] = value.strip()
        job_id = fields.get("jobnumber")
        if not job_id:
            continue
        job = _sge_job(job_id, fields)
        jobs[job_id] = _with(job, reason=end_reason(job, fields.get("failed")))
    return jobs


#: The accounting file's columns (accounting(5)) the reader uses, by position; ``category``
#: (39) may hold colons, so the last five columns are counted from the end.
_FILE_COLUMNS = {
    "owner": 3,
    "jobname": 4,
    "jobnumber": 5,
    "start_time": 9,
    "end_time": 10,
    "failed": 11,
    "exit_status": 12,
    "ru_wallclock": 13,
    "slots": 34,
}


#: qacct's words for the ``failed`` codes a launcher's job usually ends with.
_SGE_FAILURES = {
    "26": "opening job output file",
    "28": "changing into working directory",
    "37": "qmaster enforced h_rt, h_cpu, or h_vmem limit",
    "100": "assumedly after job",
}


class AccountingFile:
    """Grid Engine's accounting file (``$SGE_ROOT/$SGE_CELL/common/accounting``), read as it
    grows: each call reads only the lines written since the last (qacct reads the whole file,
    which on a site grows to gigabytes). The first call reads its last ``TAIL`` bytes. Keeps
    the last ``KEEP`` records of one owner's jobs whose name starts with ``prefix``."""

    TAIL = 4 * 2**20
    KEEP = 20_000

    def __init__(self, path: str, owner: str, prefix: str) -> None:
        self.path, self.owner, self.prefix = path, owner, prefix
        self._offset: int | None = None
        self._jobs: OrderedDict[str, AccountedJob] = OrderedDict()
        # the watcher's poll and a stopping cluster's settling read in threads of their own
        self._lock = threading.Lock()

    def read(self) -> dict[str, AccountedJob]:
        """Job id -> job, for every record of the owner's named jobs read so far."""
        with self._lock:
            return self._read()

    def _read(self) -> dict[str, AccountedJob]:
        size = os.stat(self.path).st_size
        first = self._offset is None
        start = max(0, size - self.TAIL) if first else self._offset or 0
        if size < start:
            start = 0  # rotated: a new, shorter file
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read(size - start)
        if first and start > 0:
            data = data[data.find(b"\n") + 1 :]  # a line cut in two
            start = size - len(data)
        complete = data.rfind(b"\n") + 1  # a line being written waits for the next call
        self._offset = start + complete
        for line in data[:complete].decode(errors="replace").splitlines():
            job = self._record(line)
            if job is not None:
                self._jobs.pop(job.job_id, None)
                self._jobs[job.job_id] = job
        while len(self._jobs) > self.KEEP:
            self._jobs.popitem(last=False)
        return dict(self._jobs)

    def _record(self, line: str) -> AccountedJob | None:
        columns = line.split(":")
        if line.startswith("#") or len(columns) < 45:
            return None
        fields = {key: columns[index] for key, index in _FILE_COLUMNS.items()}
        if fields["owner"] != self.owner or not fields["jobname"].startswith(self.prefix):
            return None
        fields["category"] = ":".join(columns[39:-5])
        fields["maxvmem"] = columns[-3]
        code = fields["failed"]  # the number only: qacct's words for the usual ones
        fields["failed"] = f"{code} : {_SGE_FAILURES[code]}" if code in _SGE_FAILURES else code
        job = _sge_job(fields["jobnumber"], fields)
        return _with(job, reason=end_reason(job, fields["failed"]))


def _sge_job(job_id: str, fields: dict[str, str]) -> AccountedJob:
    failed = fields.get("failed", "0").split(":")[0].strip()
    status = _int(fields.get("exit_status", "").split(" ")[0]) or 0
    elapsed = _sge_seconds(fields.get("ru_wallclock", ""))
    category = fields.get("category", "")
    time_limit = _walltime_seconds(_category_limit(category, "h_rt"))
    memory_text = _category_limit(category, "h_vmem")
    memory_limit = memory_bytes(memory_text) if memory_text else None
    peak = memory_bytes(fields.get("maxvmem", ""))
    signal = status - 128 if status > 128 else None
    if failed == "0" and status == 0:
        state = "COMPLETED"
    elif signal and time_limit is not None and elapsed is not None and elapsed >= time_limit:
        state = "TIMEOUT"
    elif signal and memory_limit and peak is not None and peak >= memory_limit * 0.95:
        state = "OUT_OF_MEMORY"
    elif failed in _SGE_LIMIT_FAILURES:
        state = "TIMEOUT" if time_limit else "FAILED"
    elif signal:
        state = "CANCELLED"  # qdel, or killed by someone: Grid Engine does not say who
    else:
        state = "FAILED"
    return AccountedJob(
        job_id=job_id,
        state=state,
        reason=None,
        exit_code=None if signal else status,
        signal=signal,
        started_at=_sge_time(fields.get("start_time", "")),
        ended_at=_sge_time(fields.get("end_time", "")),
        elapsed_seconds=elapsed,
        cores=_int(fields.get("slots", "")),
        gpus=0,
        max_rss_bytes=peak,
        time_limit_seconds=time_limit,
        memory_limit_bytes=memory_limit,
        job_name=fields.get("jobname"),
    )


# --- in words ------------------------------------------------------------------------------------
def _size(n: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def end_reason(job: AccountedJob, sge_failed: str | None = None) -> str:
    """Why the job ended, in words for the card."""
    if job.state == "TIMEOUT":
        limit = f" ({hms(job.time_limit_seconds)})" if job.time_limit_seconds else ""
        return f"reached its walltime{limit}"
    if job.state == "OUT_OF_MEMORY":
        limit = f" ({_size(job.memory_limit_bytes)})" if job.memory_limit_bytes else ""
        return f"killed for memory{limit}"
    if job.state == "NODE_FAIL":
        return "its node failed"
    if job.state == "PREEMPTED":
        return "preempted by the batch system"
    if job.state == "CANCELLED":
        return "cancelled" if job.started_at else "cancelled before it started"
    if job.state == "COMPLETED":
        return "exited normally"
    if job.signal:
        return f"killed by signal {job.signal}"
    if job.exit_code:
        return f"exited with code {job.exit_code}"
    if sge_failed and sge_failed.split(":")[0].strip() != "0":
        return f"failed: {sge_failed.partition(':')[2].strip() or sge_failed}"
    return job.state.lower().replace("_", " ")
