"""SLURM: dask_jobqueue.SLURMCluster, partitions (and their GRES) from sinfo, the user's
accounts and QOS from sacctmgr where accounting runs, job states from squeue."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from dask.utils import parse_bytes

from ...private import ClusterFiles
from ..base import Activity, Progress, StartEstimate, require
from . import allocation, commands, directives
from .accounting import SACCT_FIELDS, AccountedJob, parse_sacct
from .form_input import validate_in_words
from .jobqueue import JobQueueBackend
from .queues import ENDED_STATES, Queue, whole_minutes
from .start_estimates import local_iso, sbatch_test_only


def slurm_seconds(limit: str) -> float | None:
    """sinfo's time limit ("infinite", "30:00", "1-00:00:00", "2-12") in seconds."""
    if limit in ("infinite", "UNLIMITED", "n/a", ""):
        return None
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if days:  # D-HH[:MM[:SS]]
        parts += [0] * (3 - len(parts))
        hours, minutes, seconds = parts
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    elif len(parts) == 2:
        hours, minutes, seconds = 0, parts[0], parts[1]
    else:
        hours, minutes, seconds = 0, parts[0], 0
    return int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds


def slurm_time_left(text: str) -> float | None:
    """squeue's ``%L`` ("19:53", "1:02:03", "2-00:00:00") in seconds; ``None`` for
    "UNLIMITED", "NOT_SET", "INVALID" or anything else it cannot read."""
    try:
        return slurm_seconds(text.strip()) if ":" in text else None
    except ValueError:
        return None


#: squeue's columns for :func:`parse_squeue` (``-O``: ``%``-formats have no exit code):
#: id, name, state, reason, node, time left, exit status, start (expected, for a pending job),
#: end, allocated resources (the last three: for the cluster's usage, see ``usage.py``)
SQUEUE_FORMAT = (
    "JobID:|,Name:|,State:|,Reason:|,NodeList:|,TimeLeft:|,exit_code:|,StartTime:|,EndTime:|,"
    "tres-alloc:"
)


def parse_squeue(out: str) -> dict[str, list[dict[str, Any]]]:
    """``squeue`` output in ``SQUEUE_FORMAT``'s columns (the exit status optional): job name
    -> job rows. Only a running job has time left (a pending one's is its whole time limit);
    only an ended one has an exit code (squeue gives the wait status: code times 256, or the
    signal); only a pending one has an estimated start (where the backfill scheduler gave one)."""
    states: dict[str, list[dict[str, Any]]] = {}
    for line in out.splitlines():
        job_id, name, state, reason, node, left, *status = line.strip().split("|", 9)
        row = {
            "job_id": job_id,
            "state": state,
            "reason": None if reason in ("None", "") else reason,
            "host": node or None,
            "time_left": whole_minutes(slurm_time_left(left)) if state == "RUNNING" else None,
        }
        if state == "PENDING" and len(status) > 1:
            row["estimated_start"] = local_iso(status[1])
        if len(status) > 3 and (state == "RUNNING" or state in ENDED_STATES):
            row.update(usage_columns(state, *status[1:4]))
        if status and status[0].strip().isdigit() and state in ENDED_STATES:
            wait_status, signal = int(status[0]), int(status[0]) & 0x7F
            row["exit_code"] = 128 + signal if signal else wait_status >> 8
        states.setdefault(name, []).append(row)
    return states


def usage_columns(state: str, start: str, end: str, tres: str) -> dict[str, Any]:
    """What a running or ended job of squeue's used: ``started_at`` and ``ended_at`` (epoch
    seconds, from the controller's local time), allocated ``cores`` and ``gpus``."""
    allocated = dict(item.partition("=")[::2] for item in tres.split(",") if "=" in item)
    cpus, gpus = allocated.get("cpu", ""), allocated.get("gres/gpu", "0")
    started, ended = local_iso(start), local_iso(end) if state in ENDED_STATES else None
    return {
        "started_at": datetime.fromisoformat(started).timestamp() if started else None,
        "ended_at": datetime.fromisoformat(ended).timestamp() if ended else None,
        "cores": int(cpus) if cpus.isdigit() else None,
        "gpus": int(gpus) if gpus.isdigit() else 0,
    }


def parse_gres(text: str) -> dict[str, int]:
    """sinfo's GRES of a node ("gpu:a100:4(S:0-1),shard:8", "(null)") as name -> count, with
    both the name ("gpu": 4) and name:type ("gpu:a100": 4)."""
    found: dict[str, int] = {}
    for item in filter(None, re.sub(r"\([^)]*\)", "", text).split(",")):
        name, type_, count = _gres_parts(item)
        if not name or name == "null":
            continue
        found[name] = found.get(name, 0) + count
        if type_:
            found[f"{name}:{type_}"] = found.get(f"{name}:{type_}", 0) + count
    return found


def parse_gres_request(text: str) -> list[tuple[str, int]]:
    """A ``--gres`` request ("gpu:2", "gpu:a100:1,shard") as (key, count) pairs, the key
    being ``name`` or ``name:type``."""
    requests = []
    for item in filter(None, text.split(",")):
        name, type_, count = _gres_parts(item)
        requests.append((f"{name}:{type_}" if type_ else name, count))
    return requests


def _gres_parts(item: str) -> tuple[str, str, int]:
    """("gpu", "a100", 4) for "gpu:a100:4"; the count is 1 and the type "" when left out."""
    parts = item.strip().split(":")
    count = 1
    if len(parts) > 1 and parts[-1].isdigit():
        count = int(parts.pop())
    name = parts[0]
    type_ = parts[1] if len(parts) > 1 else ""
    return name, type_, count


def parse_associations(text: str) -> dict[str, list[str]]:
    """``sacctmgr -nP show assoc format=account,qos`` output: account -> its QOS names."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        account, _, qos = line.strip().partition("|")
        if not account:
            continue
        names = found.setdefault(account, [])
        names += [q for q in qos.split(",") if q and q not in names]
    return found


def _gres_text(gres: dict[str, int]) -> str:
    typed = {k: v for k, v in gres.items() if ":" in k}
    shown = typed or gres
    return ", ".join(f"{k}:{v}" for k, v in sorted(shown.items())) or "none"


class SLURMBackend(JobQueueBackend):
    name = "slurm"
    title = "SLURM"
    schema_file = "backends/slurm.yaml"
    cluster_class_path = "dask_jobqueue.SLURMCluster"
    config_name = "slurm"
    queue_field_title = "partition"
    required_commands = ("sbatch", "squeue", "scancel", "sinfo")
    job_id_variables = ("SLURM_JOB_ID",)
    unended_states = JobQueueBackend.unended_states | {
        "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "RESIZING", "STOPPED",
        "SIGNALING", "STAGE_OUT",
    }  # fmt: skip
    #: account -> QOS names, from sacctmgr; ``None`` where accounting is not available
    _associations: dict[str, list[str]] | None = None

    async def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        # the batch system's own ways of writing a walltime, refusals in the form's words
        properties = self.static_schema()["properties"]
        return await validate_in_words(super().validate, options, properties)

    def jobqueue_class(self) -> type:
        from dask_jobqueue import SLURMCluster

        return SLURMCluster

    def defaults(self) -> dict[str, Any]:
        values = super().defaults()
        if os.environ.get("SLURM_JOB_ACCOUNT") and "account" not in self.config_defaults():
            values["account"] = os.environ["SLURM_JOB_ACCOUNT"]
        return values

    async def check_consistency(self, options: dict[str, Any]) -> None:
        # before the checks that ask the site: a refusal here needs no batch system
        directives.check_job_name_kept(options, "#SBATCH -J", directives.slurm_sets_job_name)
        directives.check_slurm_directives(options)
        directives.check_skips(options, directives.slurm_lines(options))
        await super().check_consistency(options)
        associations = await self.associations()
        if associations:
            account, qos = options["account"], options["qos"]
            require(
                not account or account in associations,
                "options.account",
                f"you have no SLURM association with account {account!r} "
                f"(you have {', '.join(associations)})",
            )
            allowed = sorted({q for names in associations.values() for q in names})
            if account:
                allowed = associations[account]
            require(
                not qos or qos in allowed,
                "options.qos",
                f"QOS {qos!r} is not yours{f' under account {account!r}' if account else ''} "
                f"(you have {', '.join(allowed) or 'none'})",
            )
        await self._check_gres(options)

    async def _check_gres(self, options: dict[str, Any]) -> None:
        queues = await self.queues()
        if not options["gres"] or not queues:
            return
        name = options["queue"]
        by_name = {q.name: q for q in queues}
        candidates = [by_name[name]] if name in by_name else [q for q in queues if q.default]
        candidates = candidates or queues
        label = candidates[0].name if len(candidates) == 1 else "any"
        for key, count in parse_gres_request(options["gres"]):
            most = max(q.gres.get(key, 0) for q in candidates)
            require(
                most >= count,
                "options.gres",
                f"no node of the {label} partition has {count} {key} "
                f"(GRES there: {_all_gres(candidates)})",
            )

    async def discover_queues(self) -> list[Queue]:
        out, associations = await asyncio.gather(
            self.run("sinfo", "-h", "-o", "%P|%a|%l|%c|%m|%G"), self._read_associations()
        )
        self._associations = associations
        queues: dict[str, Queue] = {}
        for line in out.splitlines():
            name, state, limit, cpus, memory, gres = line.split("|", 5)
            default = name.endswith("*")
            name = name.rstrip("*")
            node_gres = parse_gres(gres)
            if name in queues:  # one line per node group: keep the smallest nodes
                merged = queues[name].gres  # and the most of each GRES a node has
                for key, count in node_gres.items():
                    merged[key] = max(merged.get(key, 0), count)
                continue
            queues[name] = Queue(
                name=name,
                state=state,
                time_limit=slurm_seconds(limit),
                cpus=int(cpus.rstrip("+")) if cpus.rstrip("+").isdigit() else None,
                memory=parse_bytes(memory.rstrip("+") + "MiB")
                if memory.rstrip("+").isdigit()
                else None,
                default=default,
                gres=node_gres,
            )
        return list(queues.values())

    async def _read_associations(self) -> dict[str, list[str]] | None:
        """The user's accounts and QOS; ``None`` where SLURM keeps no accounting database
        (the form then takes free text)."""
        try:
            user = f"user={commands.login_name()}"
            out = await self.run("sacctmgr", "-nP", "show", "assoc", user, "format=account,qos")
        except commands.BatchCommandError:
            return None
        return parse_associations(out) or None

    async def associations(self) -> dict[str, list[str]] | None:
        await self.queues()  # read and refreshed with the site's partitions
        return self._associations

    async def form_schema(self) -> dict[str, Any]:
        schema = await super().form_schema()
        properties = schema["properties"]
        associations = await self.associations()
        if associations:
            properties["account"]["oneOf"] = [{"const": "", "title": "(your default)"}] + [
                {"const": a, "title": a} for a in associations
            ]
            every_qos = sorted({q for names in associations.values() for q in names})
            properties["qos"]["oneOf"] = [{"const": "", "title": "(the account's default)"}] + [
                {"const": q, "title": q} for q in every_qos
            ]
        queues = await self.queues()
        if queues:
            properties["gres"]["description"] += f" On this site: {_all_gres(queues)}."
        return schema

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        if allocation.in_one_allocation(options):
            return self.allocation_kwargs(options, cluster_id, allocation.RUNNER)
        kwargs = self.common_kwargs(options, cluster_id)
        if options["queue"]:
            kwargs["queue"] = options["queue"]
        if options["account"]:
            kwargs["account"] = options["account"]
        extra = list(options["job_extra_directives"])
        if options["qos"]:
            extra.append(f"--qos={options['qos']}")
        if options["gres"]:
            extra.append(f"--gres={options['gres']}")
        if extra:
            kwargs["job_extra_directives"] = extra
        return kwargs

    # --- in one allocation with its workers (see allocation.py) --------------------------------
    supports_one_allocation = True

    def allocation_kwargs(
        self, options: dict[str, Any], cluster_id: str, launcher: str
    ) -> dict[str, Any]:
        log_directory = options["log_directory"] or self.private_dir.log_directory(cluster_id)
        return allocation.allocation_kwargs(options, log_directory, cluster_id, launcher)

    def with_credentials(self, kwargs: dict[str, Any], files: ClusterFiles) -> dict[str, Any]:
        if allocation.is_allocation(kwargs):
            return allocation.with_credentials(kwargs, files)
        return super().with_credentials(kwargs, files)

    def job_script(self, kwargs: dict[str, Any]) -> str | None:
        if allocation.is_allocation(kwargs):
            return allocation.job_script(kwargs)
        return super().job_script(kwargs)

    async def start(
        self,
        kwargs: dict[str, Any],
        progress: Progress | None = None,
        files: ClusterFiles | None = None,
    ) -> Any:
        if allocation.is_allocation(kwargs):  # submitted at the first scale
            return allocation.OneAllocationJob(self, kwargs, progress)
        return await super().start(kwargs, progress, files)

    async def activity(self, cluster: Any) -> Activity | None:
        if isinstance(cluster, allocation.OneAllocationJob):  # its scheduler is in the job
            return await cluster.activity()
        return await super().activity(cluster)

    def lost(self, cluster: Any) -> str | None:
        if isinstance(cluster, allocation.OneAllocationJob):  # why it stopped answering
            return None if cluster.lost == "closed" else cluster.lost
        return super().lost(cluster)

    def scheduler_job_kwargs(self, job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        # the workers' GPUs are not the scheduler's
        extra = [d for d in job.get("job_extra_directives", []) if not d.startswith("--gres")]
        return {**job, "job_extra_directives": extra}

    async def job_states(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        # --me: another user's job named like a cluster of this user's is not one of its jobs
        names_list = ",".join(names)
        # -t all: a job that ended stays listed a while (MinJobAge), with its final state
        out = await self.run(
            "squeue", "--me", "-h", "-t", "all", "--name", names_list, "-O", SQUEUE_FORMAT
        )
        return parse_squeue(out)

    keeps_accounting = True

    async def account_jobs(
        self, job_ids: list[str], names: Collection[str] = ()
    ) -> dict[str, AccountedJob]:
        # names: squeue lists an ended job a while (MinJobAge), so no job goes unseen
        if not job_ids:
            return {}
        # one call for every job that left the queue; a site without slurmdbd answers with an
        # error (then no job gets an end reason, as before)
        out = await self.run(
            "sacct", "-j", ",".join(job_ids), "--parsable2", "--noheader", "-o", SACCT_FIELDS
        )
        return parse_sacct(out)

    async def start_estimate(self, job_script: str | None) -> StartEstimate:
        if job_script is None:
            return await super().start_estimate(job_script)
        return await sbatch_test_only(job_script, self.command_prefix)

    def job_log_files(self, kwargs: dict[str, Any], job_id: str) -> list[str]:
        stem = os.path.join(kwargs["log_directory"], f"{kwargs['job_name']}-{job_id}")
        return [f"{stem}.out", f"{stem}.err"]

    async def reap(self, name: str) -> None:
        await self.run("scancel", "--me", "--name", name, check=False)


def _all_gres(queues: list[Queue]) -> str:
    if len(queues) == 1:
        return _gres_text(queues[0].gres)
    return "; ".join(f"{q.name}: {_gres_text(q.gres)}" for q in queues)
