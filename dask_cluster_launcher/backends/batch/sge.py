"""Grid Engine: dask_jobqueue.SGECluster, queues from qconf, job states from qstat -xml."""

from __future__ import annotations

import asyncio
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Collection
from datetime import datetime
from typing import Any

from dask.utils import parse_bytes

from ..base import require
from . import commands, directives
from .accounting import AccountedJob, AccountingFile, parse_qacct
from .form_input import validate_in_words
from .jobqueue import JOB_NAME_PREFIX, JobQueueBackend
from .queues import Queue, walltime_seconds, whole_minutes

_STATE_NAMES = {"qw": "PENDING", "hqw": "HELD", "r": "RUNNING", "t": "STARTING", "Eqw": "ERROR"}


def sge_seconds(value: str) -> float | None:
    """qconf's h_rt ("INFINITY", "0:30:0", "1800") in seconds."""
    if value.upper() == "INFINITY":
        return None
    if ":" in value:
        return walltime_seconds(":".join(p.zfill(2) for p in value.split(":")))
    return float(value)


def sge_time_left(job: ET.Element, now: datetime) -> int | None:
    """Seconds a running job of ``qstat -r -xml`` has left: its h_rt request less the time
    since ``JAT_start_time`` (the qmaster's local time, as ``now``); ``None`` without both."""
    start = job.findtext("JAT_start_time")
    h_rt = next((r.text for r in job.iterfind("hard_request") if r.get("name") == "h_rt"), None)
    if not start or not h_rt:
        return None
    try:
        limit = sge_seconds(h_rt.strip())
        started = datetime.fromisoformat(start.strip())
    except ValueError:
        return None
    if limit is None:
        return None
    # no more than h_rt, even when the server's clock is behind the qmaster's
    return whole_minutes(limit - max(0.0, (now - started).total_seconds()))


def sge_usage_columns(job: ET.Element) -> dict[str, Any]:
    """A running job's start (epoch seconds; the qmaster's local time) and slots."""
    start, slots = job.findtext("JAT_start_time"), (job.findtext("slots") or "").strip()
    try:
        started = datetime.fromisoformat(start.strip()).timestamp() if start else None
    except ValueError:
        started = None
    return {"started_at": started, "cores": int(slots) if slots.isdigit() else None}


def resource_value(resource_spec: str, key: str) -> str | None:
    for item in filter(None, resource_spec.split(",")):
        name, _, value = item.partition("=")
        if name == key:
            return value
    return None


def _derived(memory: Any) -> str | None:
    """The memory resource's value for a memory per job ("4 GiB" -> "4.29497G"); ``None`` for
    what is not a size."""
    try:
        return f"{parse_bytes(memory) / 1e9:g}G"
    except (TypeError, ValueError, KeyError, OverflowError):
        return None


def _same_size(a: str, b: str) -> bool:
    try:
        return math.isclose(parse_bytes(a), parse_bytes(b), rel_tol=1e-9)
    except (TypeError, ValueError, KeyError, OverflowError):
        return False


def _queue(configuration: str) -> Queue:
    """A queue from ``qconf -sq`` output ("key value" lines)."""
    config = dict(
        line.split(None, 1) for line in configuration.splitlines() if len(line.split(None, 1)) == 2
    )
    slots = re.findall(r"\d+", config.get("slots", ""))
    return Queue(
        name=config["qname"].strip(),
        time_limit=sge_seconds(config.get("h_rt", "INFINITY").strip()),
        cpus=max(int(s) for s in slots) if slots else None,
    )


class SGEBackend(JobQueueBackend):
    name = "sge"
    title = "SGE"
    schema_file = "backends/sge.yaml"
    cluster_class_path = "dask_jobqueue.SGECluster"
    config_name = "sge"
    required_commands = ("qsub", "qstat", "qdel", "qconf")
    job_id_variables = ("JOB_ID",)
    #: The site's memory resource (h_vmem, mem_free, ...); derived from the memory field.
    memory_resource = "h_vmem"
    _parallel_environments: list[str] = []

    async def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        # the batch system's own ways of writing a walltime, refusals in the form's words
        properties = self.static_schema()["properties"]
        return await validate_in_words(super().validate, options, properties)

    def jobqueue_class(self) -> type:
        from dask_jobqueue import SGECluster

        return SGECluster

    async def discover_queues(self) -> list[Queue]:
        queue_list, environments = await asyncio.gather(
            self.run("qconf", "-sql"), self.run("qconf", "-spl", check=False)
        )
        names = queue_list.split()
        # one call for every queue's configuration
        configs = await self.run("qconf", "-sq", ",".join(names)) if names else ""
        self._parallel_environments = environments.split()
        return [_queue(block) for block in re.split(r"\n(?=qname )", configs) if block.strip()]

    async def parallel_environments(self) -> list[str]:
        await self.queues()  # refreshed with the site's queues
        return self._parallel_environments

    async def form_schema(self) -> dict[str, Any]:
        schema = await super().form_schema()
        environments = await self.parallel_environments()
        schema["properties"]["parallel_environment"]["oneOf"] = [
            {"const": "", "title": "(none)"}
        ] + [{"const": pe, "title": pe} for pe in environments]
        # the sidebar moves this resource with the memory field and flags a disagreement
        schema["properties"]["resource_spec"]["x-memory-resource"] = self.memory_resource
        return schema

    async def check_consistency(self, options: dict[str, Any]) -> None:
        # before the checks that ask the site: a refusal here needs no batch system
        directives.check_job_name_kept(options, "#$ -N", directives.sge_sets_job_name)
        directives.check_sge_directives(options, self.memory_resource)
        lines = directives.sge_lines(options, self.resource_spec(options))
        directives.check_skips(options, lines)
        await super().check_consistency(options)
        per_job = parse_bytes(options["memory"])
        spec_memory = resource_value(options["resource_spec"], self.memory_resource)
        if spec_memory is not None:
            require(
                parse_bytes(spec_memory) >= per_job,
                "options.resource_spec",
                f"{self.memory_resource}={spec_memory} is less than the memory per job "
                f"({options['memory']}); the jobs would be killed",
            )
        for name, value in directives.memory_requests(options["resource_spec"]):
            require(
                parse_bytes(value) <= per_job,
                "options.resource_spec",
                f"{name}={value} is more than the memory per job ({options['memory']}): set "
                "the memory field instead (the site's limits apply to it)",
            )
        pe = options["parallel_environment"]
        if pe:
            environments = await self.parallel_environments()
            require(
                pe in environments,
                "options.parallel_environment",
                f"the site has no parallel environment {pe!r} (it has {', '.join(environments)})",
            )

    def with_overrides(self, base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
        # as in the sidebar (src/resourceSpec.ts): a memory resource derived from the profile's
        # memory (the seed's 8 G / h_vmem=8G) follows a new memory; one written otherwise stays,
        # and check_consistency refuses it when it disagrees
        merged = super().with_overrides(base, overrides)
        spec = str(base.get("resource_spec") or "")
        value = resource_value(spec, self.memory_resource)
        if "memory" not in overrides or "resource_spec" in overrides or value is None:
            return merged
        old, new = _derived(base.get("memory")), _derived(overrides["memory"])
        if old is not None and new is not None and _same_size(value, old):
            key = self.memory_resource
            merged["resource_spec"] = ",".join(
                f"{key}={new}" if item.partition("=")[0] == key else item
                for item in spec.split(",")
            )
        return merged

    def resource_spec(self, options: dict[str, Any]) -> str:
        """The form's resource spec with the memory resource added where it has none: Dask's
        memory limit alone does not reserve memory on SGE."""
        resource_spec = options["resource_spec"]
        if resource_value(resource_spec, self.memory_resource) is None:
            derived = f"{self.memory_resource}={_derived(options['memory'])}"
            resource_spec = f"{resource_spec},{derived}" if resource_spec else derived
        return str(resource_spec)

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        kwargs = self.common_kwargs(options, cluster_id)
        kwargs["resource_spec"] = self.resource_spec(options)
        for field in ("queue", "project"):
            if options[field]:
                kwargs[field] = options[field]
        directives = list(options["job_extra_directives"])
        if options["parallel_environment"]:
            directives.append(f"-pe {options['parallel_environment']} {options['cores']}")
        if directives:
            kwargs["job_extra_directives"] = directives
        return kwargs

    def job_has_ended(self, state: str) -> bool:
        # qstat lists only jobs that have not ended; one in error (Eqw, Ehqw) never starts
        return state == "ERROR" or state.startswith("E")

    def scheduler_job_kwargs(self, job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        # Grid Engine starts a job with an empty environment: the host needs the submitting
        # one (PATH to qsub, SGE_ROOT) to submit its workers; children's secrets are not in it
        return {**job, "job_extra_directives": [*job.get("job_extra_directives", []), "-V"]}

    async def job_states(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        wanted = set(names)
        # only this user's jobs: another user's job named like a cluster is not one of its jobs
        # -r: with each job's requests (its h_rt, for the time it has left)
        user = commands.login_name()
        root = ET.fromstring(await self.run("qstat", "-r", "-xml", "-u", user))
        now = datetime.now()
        states: dict[str, list[dict[str, Any]]] = {}
        waiting = []
        for job in root.iter("job_list"):
            name = job.findtext("JB_name", "")
            if name not in wanted:
                continue
            code = job.findtext("state", "")
            queue = job.findtext("queue_name") or ""
            row: dict[str, Any] = {
                "job_id": job.findtext("JB_job_number", ""),
                "state": _STATE_NAMES.get(code, code),
                "reason": None,
                "host": queue.partition("@")[2] or None,
                "time_left": sge_time_left(job, now) if code.endswith("r") else None,
            }
            if code.endswith("r"):  # for the cluster's usage (see usage.py)
                row.update(sge_usage_columns(job))
            states.setdefault(name, []).append(row)
            if "qw" in code or "E" in code:
                waiting.append(row)
        if waiting:
            reasons = await self._reasons([row["job_id"] for row in waiting])
            for row in waiting:
                row["reason"] = reasons.get(row["job_id"])
        return states

    keeps_accounting = True
    #: qmaster writes the accounting file every ``flush_time`` (sge_conf(5) reporting_params:
    #: ``accounting_flush_time``, else ``flush_time``, 15 s by default)
    accounting_delay = 15.0
    #: The accounting file, once found readable (see ``_accounting_file``).
    _accounting: AccountingFile | None = None

    async def account_jobs(
        self, job_ids: list[str], names: Collection[str] = ()
    ) -> dict[str, AccountedJob]:
        if not job_ids and not names:
            return {}
        user = commands.login_name()
        accounting = self._accounting_file(user)
        if accounting is not None:
            # the lines written since the last poll: the cost follows the jobs that ended,
            # not the size of the file
            jobs = await asyncio.to_thread(accounting.read)
        else:
            # through a command prefix: qacct takes one -j, the launcher's job name pattern
            # answers for every cluster at once (it reads the whole file); exit 1 when none
            out = await self.run("qacct", "-o", user, "-j", f"{JOB_NAME_PREFIX}*", check=False)
            jobs = parse_qacct(out)
        wanted, named = set(job_ids), set(names)
        return {
            job_id: job for job_id, job in jobs.items() if job_id in wanted or job.job_name in named
        }

    def _accounting_file(self, user: str) -> AccountingFile | None:
        """The accounting file, read as it grows, where this server can read it (no command
        prefix: the batch commands run here)."""
        if self.command_prefix:
            return None
        if self._accounting is None:
            root = os.environ.get("SGE_ROOT", "/var/lib/gridengine")
            path = os.path.join(root, os.environ.get("SGE_CELL", "default"), "common", "accounting")
            if not os.access(path, os.R_OK):
                return None
            self._accounting = AccountingFile(path, user, JOB_NAME_PREFIX)
        return self._accounting

    async def _reasons(self, job_ids: list[str]) -> dict[str, str]:
        """Why jobs wait or are in error, from ONE ``qstat -j`` call for all of them."""
        out = await self.run("qstat", "-j", ",".join(job_ids), "-xml", check=False)
        try:
            root = ET.fromstring(out)
        except ET.ParseError:
            return {}
        messages: dict[str, list[str]] = {}
        for job in root.iterfind("djob_info/element"):  # errors (Eqw) first
            job_id = job.findtext("JB_job_number", "")
            for error in job.iter("QIM_message"):
                messages.setdefault(job_id, []).append((error.text or "").split("]: ", 1)[-1])
        for message in root.iter("SME_message_list"):  # the scheduler's reasons (qw)
            for item in message.iterfind("element"):
                text = item.findtext("MES_message", "")
                for value in item.iter("ULNG_value"):
                    messages.setdefault(value.text or "", []).append(text)
        return {job_id: "; ".join(dict.fromkeys(texts)) for job_id, texts in messages.items()}

    def job_log_files(self, kwargs: dict[str, Any], job_id: str) -> list[str]:
        stem = os.path.join(kwargs["log_directory"], kwargs["job_name"])
        return [f"{stem}.o{job_id}", f"{stem}.e{job_id}"]

    async def reap(self, name: str) -> None:
        await self.run("qdel", "-u", commands.login_name(), name, check=False)
