"""IBM Spectrum LSF: dask_jobqueue.LSFCluster, queues from ``bqueues -l``, hosts from ``bhosts``,
job states (with the pending reason) from one ``bjobs -o ... -json`` per poll.

What LSF does differently (IBM Spectrum LSF 10.1 command reference):

- ``bsub FILE`` runs FILE as the job's command and reads no ``#BSUB`` line from it; directives
  count only in a script read from stdin (dask-jobqueue's ``use-stdin``). The launcher writes
  each script in a private file and always submits it on stdin.
- The run limit is ``-W [hour:]minute``. The form keeps the walltime as HH:MM:SS, like the
  other batch systems (operators' limits and the sidebar read one format), and the job gets it
  rounded up to whole minutes; a dask config walltime in LSF's format is read as such.
- ``bkill -J NAME`` alone kills only the last job of that name: reaping passes job ID ``0``.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import json
import math
import os
import re
from collections.abc import Collection
from typing import Any

from . import commands, directives, submission
from .accounting import AccountedJob
from .accounting_lsf import BJOBS_ENDED_FIELDS, parse_bjobs_ended
from .jobqueue import JobQueueBackend
from .queues import Queue, walltime_seconds, whole_minutes

#: bjobs's ``-o`` fields, read by :func:`parse_bjobs`
BJOBS_FIELDS = "jobid job_name stat exec_host time_left pend_reason"
STATES = {
    "PEND": "PENDING",
    "PSUSP": "HELD",
    "RUN": "RUNNING",
    "USUSP": "SUSPENDED",
    "SSUSP": "SUSPENDED",
    "PROV": "STARTING",
    "WAIT": "PENDING",
}
#: bsub options (``#BSUB`` directives) that set what a form field, a limit or a lock governs
GOVERNED: dict[str, directives.Governs] = {
    "-q": directives.QUEUE,
    "-P": directives.PROJECT,
    "-G": directives.ACCOUNT,
    "-W": directives.TIME,
    "-c": directives.TIME,
    "-n": directives.CPUS,
    "-x": directives.CPUS,
    "-M": directives.MEMORY,
    "-v": directives.MEMORY,
    "-o": directives.Governs("the job's output file", "use the log directory field"),
    "-oo": directives.Governs("the job's output file", "use the log directory field"),
    "-e": directives.Governs("the job's error file", "use the log directory field"),
    "-eo": directives.Governs("the job's error file", "use the log directory field"),
    "-pack": directives.Governs("more jobs, from a file", "write each option here"),
}


def lsf_walltime(walltime: str) -> str:
    """The form's HH:MM:SS as bsub's ``-W hour:minute``, rounded up to a whole minute."""
    minutes = math.ceil(walltime_seconds(walltime) / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def form_walltime(value: Any) -> Any:
    """A dask config walltime in LSF's ``[hour:]minute`` as the form's HH:MM:SS."""
    if isinstance(value, str) and re.fullmatch(r"(\d+:)?\d+", value.strip()):
        hours, _, minutes = value.strip().rpartition(":")
        total = int(hours or 0) * 60 + int(minutes)
        return f"{total // 60:02d}:{total % 60:02d}:00"
    return value


def lsf_minutes(text: str) -> float | None:
    """A limit as ``bqueues -l`` prints it ("720.0 min", "30.0 min of hostA") in seconds."""
    match = re.match(r"\s*([\d.]+)\s*min", text)
    return float(match.group(1)) * 60 if match else None


def parse_bqueues(text: str) -> list[Queue]:
    """``bqueues -l`` output: one ``QUEUE: name`` block per queue, its ``RUNLIMIT`` on the line
    after that heading, "This is the default queue." in the default one's description."""
    queues = []
    for block in re.split(r"^(?=QUEUE: )", text, flags=re.M):
        match = re.match(r"QUEUE: (\S+)", block)
        if not match:
            continue
        status = re.search(r"^\s*\d+\s+-?\d+\s+(\S+)", block, flags=re.M)
        limit = re.search(r"^\s*RUNLIMIT\s*\n(.*)$", block, flags=re.M)
        queues.append(
            Queue(
                name=match.group(1),
                state=status.group(1).lower() if status else "up",
                time_limit=lsf_minutes(limit.group(1)) if limit else None,
                default="This is the default queue" in block,
            )
        )
    return queues


def parse_bhosts_slots(text: str) -> int | None:
    """The most job slots (``MAX``) any host of ``bhosts`` has."""
    slots = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[3].isdigit():
            slots.append(int(fields[3]))
    return max(slots, default=None)


def lsf_time_left(text: str) -> float | None:
    """bjobs's ``time_left`` ("0:29 L", "12:05 E", "-") in seconds."""
    match = re.match(r"\s*(\d+):(\d+)", text or "")
    return (int(match.group(1)) * 3600 + int(match.group(2)) * 60) if match else None


def parse_bjobs(out: str) -> dict[str, list[dict[str, Any]]]:
    """``bjobs -o "<BJOBS_FIELDS>" -json``: job name -> job rows, unfinished jobs only."""
    try:
        records = json.loads(out).get("RECORDS", [])
    except ValueError:
        return {}  # "No unfinished job found" and the like
    states: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        stat = record.get("STAT", "")
        if stat in ("DONE", "EXIT") or "ERROR" in record:
            continue
        host = (record.get("EXEC_HOST") or "-").split(":")[0].rpartition("*")[2]
        reason = record.get("PEND_REASON") or "-"
        states.setdefault(record.get("JOB_NAME", ""), []).append(
            {
                "job_id": record.get("JOBID", ""),
                "state": STATES.get(stat, stat),
                "reason": None if reason == "-" else reason.rstrip(";"),
                "host": None if host in ("-", "") else host,
                "time_left": whole_minutes(lsf_time_left(record.get("TIME_LEFT", "")))
                if stat == "RUN"
                else None,
            }
        )
    return states


def lsf_sets_job_name(directive: str) -> bool:
    return "-J" in directives._after(directive, "#BSUB")


def check_lsf_directives(options: dict[str, Any]) -> None:
    for index, directive in enumerate(options.get("job_extra_directives", [])):
        for word in directives._after(directive, "#BSUB"):
            if word in GOVERNED:
                directives._refuse(index, directive, word, GOVERNED[word])


class LSFBackend(JobQueueBackend):
    name = "lsf"
    title = "LSF"
    schema_file = "backends/lsf.yaml"
    cluster_class_path = "dask_jobqueue.LSFCluster"
    config_name = "lsf"
    required_commands = ("bsub", "bjobs", "bkill", "bqueues", "bhosts")
    job_id_variables = ("LSB_JOBID",)

    def jobqueue_class(self) -> type:
        from dask_jobqueue import LSFCluster

        return LSFCluster

    def cluster_class(self) -> type:
        return _submitting_on_stdin(super().cluster_class())

    def defaults(self) -> dict[str, Any]:
        values = super().defaults()
        values["walltime"] = form_walltime(values["walltime"])
        return values

    def config_defaults(self) -> dict[str, Any]:
        values = super().config_defaults()
        if "walltime" in values:
            values["walltime"] = form_walltime(values["walltime"])
        return values

    async def discover_queues(self) -> list[Queue]:
        text, hosts = await asyncio.gather(self.run("bqueues", "-l"), self.run("bhosts"))
        queues = parse_bqueues(text)
        slots = parse_bhosts_slots(hosts)
        for queue in queues:
            queue.cpus = slots
            queue.state = "up" if queue.state.startswith("open:active") else queue.state
        return queues

    async def check_consistency(self, options: dict[str, Any]) -> None:
        # before the checks that ask the site: a refusal here needs no batch system
        directives.check_job_name_kept(options, "#BSUB -J", lsf_sets_job_name)
        check_lsf_directives(options)
        directives.check_skips(options, self.governed_lines(options))
        await super().check_consistency(options)

    def scheduler_job_kwargs(self, job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        return {**job, "walltime": lsf_walltime(job["walltime"])}  # bsub -W hour:minute

    def governed_lines(self, options: dict[str, Any]) -> dict[str, str]:
        lines = {f"#BSUB -W {lsf_walltime(options['walltime'])}": "walltime"}
        if options["queue"]:
            lines[f"#BSUB -q {options['queue']}"] = "queue"
        if options["project"]:
            lines[f'#BSUB -P "{options["project"]}"'] = "project"
        if options["resource_spec"]:
            lines[f'#BSUB -R "{options["resource_spec"]}"'] = "resource request"
        return lines

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        kwargs = self.common_kwargs(options, cluster_id)
        kwargs["walltime"] = lsf_walltime(options["walltime"])
        for field in ("queue", "project"):
            if options[field]:
                kwargs[field] = options[field]
        extra = list(options["job_extra_directives"])
        if options["resource_spec"]:
            extra.append(f'-R "{options["resource_spec"]}"')
        if extra:
            kwargs["job_extra_directives"] = extra
        return kwargs

    async def job_states(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        # -u: this user's jobs only (an LSF administrator sees everyone's by name otherwise)
        user = commands.login_name()
        out = await self.run("bjobs", "-u", user, "-o", BJOBS_FIELDS, "-json", check=False)
        wanted = set(names)
        return {name: rows for name, rows in parse_bjobs(out).items() if name in wanted}

    keeps_accounting = True

    async def account_jobs(
        self, job_ids: list[str], names: Collection[str] = ()
    ) -> dict[str, AccountedJob]:
        # names: bjobs lists a job from its submission to CLEAN_PERIOD after its end, so
        # no job goes unseen; one call for every job that left the queue (accounting_lsf.py)
        if not job_ids:
            return {}
        user = commands.login_name()
        out = await self.run(
            "bjobs",
            "-a",
            "-u",
            user,
            "-o",
            BJOBS_ENDED_FIELDS,
            "-hms",
            "-json",
            *job_ids,
            check=False,
        )
        return parse_bjobs_ended(out)

    def job_log_files(self, kwargs: dict[str, Any], job_id: str) -> list[str]:
        # dask-jobqueue names the files after the worker (-o <dir>/<worker name>-%J.out)
        folder = glob.escape(kwargs["log_directory"])
        found = sorted(glob.glob(os.path.join(folder, f"*-{job_id}.out")))
        found += sorted(glob.glob(os.path.join(folder, f"*-{job_id}.err")))
        return found or [os.path.join(kwargs["log_directory"], f"worker-{job_id}.out")]

    async def reap(self, name: str) -> None:
        # job ID 0: every job of that name (-J alone kills only the last one submitted)
        await self.run("bkill", "-u", commands.login_name(), "-J", name, "0", check=False)


@functools.cache
def _submitting_on_stdin(cluster_class: Any) -> Any:
    """``cluster_class`` whose jobs are submitted as ``bsub < script``: LSF reads ``#BSUB``
    lines only from a script on stdin (``bsub script`` would run it without them)."""
    job_class = cluster_class.job_cls

    async def _submit_job(self: Any, script_filename: str, **call_kwargs: Any) -> str:
        prefix = getattr(self, "command_prefix", ())
        command = submission.prefixed_command(self.submit_command, prefix, [])
        with open(script_filename, "rb") as script:
            return await submission.call(command, stdin=script, **call_kwargs)

    attributes = {"_submit_job": _submit_job, "__module__": __name__}
    job = type(job_class.__name__, (job_class,), attributes)
    return type(cluster_class.__name__, (cluster_class,), {"job_cls": job, "__module__": __name__})
