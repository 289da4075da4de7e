"""HTCondor: dask_jobqueue.HTCondorCluster, the pool's slots from ``condor_status``, job states
(with the hold reason, or why an idle job found no slot) from one ``condor_q -json`` per poll.

What HTCondor does differently (HTCondor manual, condor_submit and condor_q):

- There are no queues: jobs are matched to slots. The form checks cores, memory and disk
  against the largest slot ``condor_status`` lists, and has no queue field.
- A job's name is its batch name: the launcher sets ``batch_name = dcl-<cluster id>`` (with
  dask-jobqueue's ``job_extra_directives``, which it writes as ``key = value`` lines); stopping
  removes by a constraint on it (``condor_rm -constraint 'JobBatchName =?= "..." && Owner ==
  "..."'``).
- There is no walltime in the batch system's sense: ``allowed_job_duration`` (HTCondor 9.4 and
  later) holds a job that runs longer; the form's walltime sets it, so workers' lifetimes
  and the operators' walltime limit work as on the other systems.
- ``getenv = true``: the worker gets the environment of the host (HTCondor's jobs get
  none by default), as SLURM, SGE and LSF jobs do.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import time
from collections.abc import Collection, Mapping
from typing import Any

import dask.config
from dask.utils import parse_bytes

from ..base import require
from . import commands, directives
from .accounting import AccountedJob
from .accounting_htcondor import HISTORY_ATTRIBUTES, history_constraint, parse_condor_history
from .jobqueue import JobQueueBackend, job_name
from .queues import Queue, walltime_seconds, whole_minutes

#: condor_q's JobStatus codes, as the cluster model names job states
STATES = {
    1: "PENDING",
    2: "RUNNING",
    3: "REMOVED",
    4: "COMPLETED",
    5: "HELD",
    6: "STARTING",
    7: "SUSPENDED",
}
CONDOR_Q_ATTRIBUTES = "ClusterId,ProcId,JobBatchName,JobStatus,RemoteHost,HoldReason,"
CONDOR_Q_ATTRIBUTES += "LastRejMatchReason,JobCurrentStartDate,AllowedJobDuration,ServerTime"
#: submit commands that set what a form field, a limit or a lock governs (lower case: HTCondor
#: reads them whatever their case); ``MY.``/``+`` attributes the worker's sizes are read from
GOVERNED: dict[str, directives.Governs] = {
    **dict.fromkeys(("batch_name", "jobbatchname"), directives.Governs("the job's name", "")),
    **dict.fromkeys(("request_cpus", "requestcpus"), directives.CPUS),
    **dict.fromkeys(("request_memory", "requestmemory"), directives.MEMORY),
    **dict.fromkeys(("request_disk", "requestdisk"), directives.Governs("disk", "")),
    **dict.fromkeys(
        ("allowed_job_duration", "allowed_execute_duration", "periodic_remove"),
        directives.TIME,
    ),
    "accounting_group": directives.ACCOUNT,
    "accounting_group_user": directives.ACCOUNT,
    **dict.fromkeys(
        ("executable", "arguments", "args", "universe", "queue", "getenv", "environment"),
        directives.Governs("the worker's command", "it is the launcher's"),
    ),
    **dict.fromkeys(
        ("output", "error", "log", "logdirectory", "initialdir"),
        directives.Governs("the job's log files", "use the log directory field"),
    ),
}


#: dask-jobqueue's submit commands a job may leave out (``job_directives_skip`` names them)
SKIPPABLE = ("Stream_Output", "Stream_Error", "Log")


def directive_key(entry: str) -> str:
    """The submit command an extra directive (``key = value``) sets, lower case, without the
    ``+``/``MY.`` of a job attribute."""
    key = entry.partition("=")[0].strip().lower().lstrip("+")
    return key[3:] if key.startswith("my.") else key


def parse_condor_q(out: str, now: float) -> dict[str, list[dict[str, Any]]]:
    """``condor_q -json -attributes <CONDOR_Q_ATTRIBUTES>``: batch name -> job rows (the
    command prints nothing when no job matches)."""
    states: dict[str, list[dict[str, Any]]] = {}
    for ad in json.loads(out) if out.strip() else []:
        status = ad.get("JobStatus")
        if status in (3, 4):  # removed or completed: leaving the queue
            continue
        reason = ad.get("HoldReason") if status == 5 else ad.get("LastRejMatchReason")
        host = str(ad.get("RemoteHost") or "").rpartition("@")[2] or None
        left = None
        if status == 2 and ad.get("AllowedJobDuration") and ad.get("JobCurrentStartDate"):
            started = ad["JobCurrentStartDate"]
            left = whole_minutes(started + ad["AllowedJobDuration"] - ad.get("ServerTime", now))
        states.setdefault(str(ad.get("JobBatchName", "")), []).append(
            {
                "job_id": f"{ad.get('ClusterId')}.{ad.get('ProcId', 0)}",
                "state": STATES.get(status, str(status)),
                "reason": str(reason).strip() or None if reason else None,
                "host": host,
                "time_left": left,
            }
        )
    return states


class HTCondorBackend(JobQueueBackend):
    name = "htcondor"
    title = "HTCondor"
    schema_file = "backends/htcondor.yaml"
    cluster_class_path = "dask_jobqueue.HTCondorCluster"
    config_name = "htcondor"
    queue_field_title = "slot"
    required_commands = ("condor_submit", "condor_q", "condor_rm", "condor_status")
    #: the largest slot: (cpus, memory bytes, disk bytes); ``None`` until read
    _slot: tuple[int, int, int] | None = None
    _slot_error: str | None = None

    def own_job_id(self, environ: Mapping[str, str]) -> str | None:
        # no variable holds it: HTCondor names the file of the job's ClassAd (_CONDOR_JOB_AD)
        try:
            with open(environ.get("_CONDOR_JOB_AD") or os.devnull) as ad:
                attributes = dict(line.partition("=")[::2] for line in ad if "=" in line)
        except OSError:
            return None
        found = {key.strip().lower(): value.strip() for key, value in attributes.items()}
        cluster, proc = found.get("clusterid", ""), found.get("procid", "0")
        return f"{cluster}.{proc}" if cluster.isdigit() and proc.isdigit() else None

    def scheduler_job_kwargs(self, job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        # no walltime argument: the scheduler's own allowed_job_duration instead
        job = {key: value for key, value in job.items() if key != "walltime"}
        extra = {**job.get("job_extra_directives", {})}
        extra["allowed_job_duration"] = walltime_seconds(
            options["scheduler_walltime"] or options["walltime"]
        )
        return {**job, "job_extra_directives": extra}

    def jobqueue_class(self) -> type:
        from dask_jobqueue import HTCondorCluster

        return HTCondorCluster

    def cluster_class(self) -> type:
        return _prefix_kept(super().cluster_class())

    def defaults(self) -> dict[str, Any]:
        values = super().defaults()
        disk = dask.config.get("jobqueue.htcondor.disk", None)  # dask-jobqueue's default: none
        if disk:
            values["disk"] = str(disk)
        return values

    async def discover_queues(self) -> list[Queue]:
        """No queues; the slots are read here (the form has no queue field to fill)."""
        try:
            out = await self.run("condor_status", "-af", "Cpus", "Memory", "Disk")
        except commands.BatchCommandError as exc:
            self._slot, self._slot_error = None, str(exc)
            return []
        self._slot_error = None
        slots = []
        for line in out.splitlines():
            fields = line.split()
            if len(fields) == 3 and all(f.isdigit() for f in fields):
                cpus, memory, disk = map(int, fields)
                slots.append((cpus, memory * 2**20, disk * 2**10))  # MiB, KiB
        self._slot = max(slots) if slots else None
        return []

    async def form_schema(self) -> dict[str, Any]:
        schema = await super().form_schema()
        if self._slot:
            cpus, memory, disk = self._slot
            schema["properties"]["cores"]["description"] += (
                f" The pool's largest slot: {cpus} CPUs, {memory / 2**30:.1f} GiB memory, "
                f"{disk / 2**30:.1f} GiB disk."
            )
        elif self._slot_error:
            schema["properties"]["cores"]["description"] += (
                f" Could not list the pool's slots: {self._slot_error}"
            )
        return schema

    async def check_consistency(self, options: dict[str, Any]) -> None:
        # a "#" prologue line would end the worker's command line (they are joined with "; ")
        directives.check_job_name_kept(options, "batch_name = ", lambda directive: False)
        for index, entry in enumerate(options["job_extra_directives"]):
            key = directive_key(entry)
            if key in GOVERNED or key.startswith("daskworker"):
                governs = GOVERNED.get(key, directives.Governs("the worker's sizes", ""))
                require(
                    False,
                    f"options.job_extra_directives.{index}",
                    f"{key} sets {governs.what}, which the form, the site's limits and a "
                    f"profile's locks govern{': ' + governs.instead if governs.instead else ''}",
                )
        for index, skip in enumerate(options["job_directives_skip"]):
            require(
                skip in SKIPPABLE,
                f"options.job_directives_skip.{index}",
                f"HTCondor's jobs may leave out only {', '.join(SKIPPABLE)} (dask-jobqueue "
                "drops submit commands by their exact name; the others are the form's)",
            )
        require(parse_bytes(options["disk"]) >= 2**20, "options.disk", "must be at least 1 MiB")
        await super().check_consistency(options)
        await self.queues()  # reads the slots
        if self._slot:
            cpus, memory, disk = self._slot
            require(options["cores"] <= cpus, "options.cores", f"is more than a slot has ({cpus})")
            if options.get("scheduler_placement") == "own_job":  # its job needs a slot too
                require(
                    options["scheduler_cores"] <= cpus,
                    "options.scheduler_cores",
                    f"is more than a slot has ({cpus})",
                )
                require(
                    parse_bytes(options["scheduler_memory"]) <= memory,
                    "options.scheduler_memory",
                    f"is more than a slot has ({memory / 2**30:.1f} GiB)",
                )
            limits = (("memory", memory), ("disk", disk))
            for field, most in limits:
                require(
                    parse_bytes(options[field]) <= most,
                    f"options.{field}",
                    f"is more than a slot has ({most / 2**30:.1f} GiB)",
                )

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        kwargs = self.common_kwargs(options, cluster_id)
        del kwargs["walltime"]  # HTCondorJob takes none: allowed_job_duration below
        kwargs["disk"] = options["disk"]
        extra: dict[str, Any] = {"batch_name": job_name(cluster_id), "getenv": "True"}
        extra["allowed_job_duration"] = walltime_seconds(options["walltime"])
        if options["accounting_group"]:
            extra["accounting_group"] = options["accounting_group"]
        if options["requirements"]:
            extra["requirements"] = options["requirements"]
        for entry in options["job_extra_directives"]:
            key, _, value = entry.partition("=")
            extra[key.strip()] = value.strip()
        kwargs["job_extra_directives"] = extra
        return kwargs

    async def job_states(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        # one query for every cluster's jobs, this user's only (the schedd's superusers see all)
        user = commands.login_name()
        batch = " || ".join(f'JobBatchName =?= "{name}"' for name in names)
        constraint = f'Owner =?= "{user}" && ({batch})'
        out = await self.run(
            "condor_q", "-constraint", constraint, "-json", "-attributes", CONDOR_Q_ATTRIBUTES
        )
        return parse_condor_q(out, time.time())

    keeps_accounting = True

    async def account_jobs(
        self, job_ids: list[str], names: Collection[str] = ()
    ) -> dict[str, AccountedJob]:
        # a job leaves condor_q for the history as it ends: asked by id, and by batch name
        # for a starting cluster the queue never listed (accounting_htcondor.py)
        named = [name for name in names if re.fullmatch(r"[A-Za-z0-9_.-]+", name)]
        if not job_ids and not named:
            return {}
        constraint = history_constraint(commands.login_name(), job_ids, named)
        # -match: the history is read newest first, and stops once every job is found
        limit = ("-match", str(len(job_ids))) if job_ids and not named else ()
        out = await self.run(
            "condor_history",
            "-constraint",
            constraint,
            *limit,
            "-json",
            "-attributes",
            HISTORY_ATTRIBUTES,
        )
        return parse_condor_history(out)

    def job_log_files(self, kwargs: dict[str, Any], job_id: str) -> list[str]:
        # dask-jobqueue's Output/Error: $(LogDirectory)/worker-<cluster>.<proc>.out/.err
        job_id = job_id if "." in job_id else f"{job_id}.0"
        stem = os.path.join(kwargs["log_directory"], f"worker-{job_id}")
        return [f"{stem}.out", f"{stem}.err"]

    async def reap(self, name: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            return
        user = commands.login_name()
        constraint = f'JobBatchName =?= "{name}" && Owner =?= "{user}"'
        await self.run("condor_rm", "-constraint", constraint, check=False)


@functools.cache
def _prefix_kept(cluster_class: Any) -> Any:
    """``cluster_class`` whose jobs keep the batch command prefix: HTCondorJob sets its
    ``submit_command`` and ``cancel_command`` in ``__init__`` from HTCondorJob's own (plus
    ``submit-command-extra``), past the prefixed class attributes (``commands.py``)."""
    job_class = cluster_class.job_cls

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        job_class.__init__(self, *args, **kwargs)
        prefix = tuple(getattr(self, "command_prefix", ()))
        for attribute in ("submit_command", "cancel_command") if prefix else ():
            words = shlex.split(getattr(self, attribute))
            setattr(self, attribute, shlex.join([*prefix, *words]))

    job = type(job_class.__name__, (job_class,), {"__init__": __init__, "__module__": __name__})
    return type(cluster_class.__name__, (cluster_class,), {"job_cls": job, "__module__": __name__})
