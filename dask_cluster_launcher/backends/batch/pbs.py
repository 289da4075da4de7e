"""PBS (PBS Pro, OpenPBS, Torque): dask_jobqueue.PBSCluster, queues from ``qstat -Q -f`` and
node sizes from ``pbsnodes -a``, job states from one ``qstat -f`` per poll (JSON where the
server offers ``-F json``, text otherwise), jobs found by name with ``qselect -N`` (``qdel``
takes no names). Formats in ``pbs_formats.py``, directive rules in ``pbs_directives.py``."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Collection
from typing import Any

import dask.config
from dask.utils import parse_bytes

from . import commands, pbs_directives
from .accounting import AccountedJob
from .accounting_pbs import parse_finished
from .jobqueue import JobQueueBackend
from .pbs_formats import parse_jobs, parse_nodes, parse_queues
from .queues import Queue, hms, walltime_seconds


def _refuses_option(message: str) -> bool:
    """Whether a qstat failure says it does not know an option (Torque's for ``-F``)."""
    lowered = message.lower()
    return "option" in lowered or "usage" in lowered


def default_resource_line(options: dict[str, Any]) -> str:
    """The ``-l`` line dask-jobqueue writes when the resource spec is left empty."""
    from dask_jobqueue.pbs import pbs_format_bytes_ceil

    memory = pbs_format_bytes_ceil(parse_bytes(options["memory"]))
    return f"#PBS -l select=1:ncpus={options['cores']}:mem={memory}"


class PBSBackend(JobQueueBackend):
    name = "pbs"
    title = "PBS"
    schema_file = "backends/pbs.yaml"
    cluster_class_path = "dask_jobqueue.PBSCluster"
    config_name = "pbs"
    required_commands = ("qsub", "qstat", "qdel", "qselect", "pbsnodes")
    #: PBS Pro, OpenPBS and Torque set PBS_JOBID; SLURM behind its Torque wrappers (sites that
    #: kept qsub, and the test bed), whose qsub prints SLURM's job id, sets SLURM_JOB_ID
    job_id_variables = ("PBS_JOBID", "SLURM_JOB_ID")
    #: Directories (``:``-separated) searched before the server's PATH for the PBS commands
    #: (server setting ``pbs_command_path``; ``None``: ``$DCL_PBS_PATH`` when asked): a machine
    #: whose ``qsub`` on PATH is another batch system's. It travels to the cluster's host and
    #: dask-jobqueue's commands as ``env PATH=...`` in front of the site's command prefix (a
    #: local wrapper then finds them too); not with a remote shell prefix, whose host has its
    #: own PATH.
    command_path: str | None = None
    _base_prefix: tuple[str, ...] = ()
    #: whether ``qstat -f -F json`` answers (PBS Pro, OpenPBS); asked at the first poll
    _json: bool | None = None

    def search_path(self) -> str:
        """The directories searched first, or "" for the server's PATH alone."""
        if self.command_path is not None:
            return self.command_path
        return os.environ.get("DCL_PBS_PATH", "")

    def _search(self) -> str | None:
        """The PATH the PBS commands are found on; ``None``: the server's, unchanged."""
        path, base = self.search_path(), self._base_prefix
        if not path or commands.is_remote_shell(base) or base[:1] == ("env",):
            return None  # a host gets the prefix made here, its env PATH=... included
        return f"{path}{os.pathsep}{os.environ.get('PATH', os.defpath)}"

    @property
    def command_prefix(self) -> tuple[str, ...]:
        search = self._search()
        return (
            self._base_prefix if search is None else ("env", f"PATH={search}", *self._base_prefix)
        )

    @command_prefix.setter
    def command_prefix(self, prefix: tuple[str, ...]) -> None:
        self._base_prefix = tuple(prefix)

    def unavailable_reason(self) -> str | None:
        search = self._search()
        if search is None:
            return super().unavailable_reason()
        wanted = self._base_prefix[:1] or self.required_commands
        missing = [c for c in wanted if shutil.which(c, path=search) is None]
        if missing:
            return f"{', '.join(missing)} not found in {self.search_path()} or the server's PATH"
        return None

    def config_defaults(self) -> dict[str, Any]:
        found = super().config_defaults()
        # dask-jobqueue's PBSJob still reads the old name of the account, ``project``
        project = dask.config.get("jobqueue.pbs.project", None)
        if "account" not in found and isinstance(project, str) and project:
            found["account"] = project
        return found

    def defaults(self) -> dict[str, Any]:
        values = super().defaults()
        # PBSJob's own fallback for a missing account: shown, so the form says what is sent
        if os.environ.get("PBS_ACCOUNT") and "account" not in self.config_defaults():
            values["account"] = os.environ["PBS_ACCOUNT"]
        return values

    def jobqueue_class(self) -> type:
        from dask_jobqueue import PBSCluster

        return PBSCluster

    async def discover_queues(self) -> list[Queue]:
        queues, nodes = await asyncio.gather(
            self.run("qstat", "-Q", "-f"), self.run("pbsnodes", "-a", check=False)
        )
        return parse_queues(queues, parse_nodes(nodes))

    async def check_consistency(self, options: dict[str, Any]) -> None:
        # before the checks that ask the site: a refusal here needs no batch system
        defaults = () if options["resource_spec"] else (default_resource_line(options),)
        pbs_directives.check(options, defaults)
        await super().check_consistency(options)

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        kwargs = self.common_kwargs(options, cluster_id)
        for field in ("queue", "account", "resource_spec"):
            if options[field]:
                kwargs[field] = options[field]
        if options["job_extra_directives"]:
            kwargs["job_extra_directives"] = list(options["job_extra_directives"])
        return kwargs

    def scheduler_job_kwargs(self, job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        # one chunk of the scheduler's cores and memory (the workers' resource request is
        # theirs); HH:MM:SS (qsub takes no days); -V: the submitting environment (PATH to
        # qsub, ...), which PBS, like Grid Engine, does not hand to a job by itself
        job = {key: value for key, value in job.items() if key != "resource_spec"}
        job["walltime"] = hms(walltime_seconds(job["walltime"]))
        job["job_extra_directives"] = [*job.get("job_extra_directives", []), "-V"]
        return job

    async def job_states(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        # every job in one call; only this user's count: another user's job named like a
        # cluster is not one of its jobs (Torque's qstat -f takes no -u)
        out = ""
        if self._json is not False:
            try:
                out = await self.run("qstat", "-f", "-F", "json")
            except commands.BatchCommandError as exc:
                # Torque's qstat refuses -F with its usage; any other failure (a server
                # that does not answer) is this poll's, and the next one asks again
                if self._json or not _refuses_option(str(exc)):
                    raise
            self._json = out.lstrip().startswith("{")
        if not self._json:
            try:
                out = await self.run("qstat", "-f")
            except commands.BatchCommandError as exc:
                if str(exc) != "qstat failed: ":
                    raise
                out = ""  # the Torque wrappers' qstat exits 153, silently, with no job to list
        return parse_jobs(out, set(names), commands.login_name())

    keeps_accounting = True

    async def account_jobs(
        self, job_ids: list[str], names: Collection[str] = ()
    ) -> dict[str, AccountedJob]:
        # names: qstat lists a job until it finishes, so no job goes unseen. One call for
        # every job that left the queue: PBS Pro's job history (-x), Torque's completed jobs
        # (keep_completed); an id the server no longer knows fails alone (accounting_pbs.py)
        if not job_ids:
            return {}
        history = ("-x", "-F", "json") if self._json else ()
        out = await self.run("qstat", *history, "-f", *job_ids, check=False)
        return parse_finished(out, commands.login_name())

    def job_log_files(self, kwargs: dict[str, Any], job_id: str) -> list[str]:
        # -o/-e name the log directory: PBS writes <job name>.o<sequence number> there
        sequence = job_id.partition(".")[0]
        stem = os.path.join(kwargs["log_directory"], kwargs["job_name"])
        return [f"{stem}.o{sequence}", f"{stem}.e{sequence}"]

    async def reap(self, name: str) -> None:
        user = commands.login_name()
        out = await self.run("qselect", "-N", name, "-u", user, check=False)
        job_ids = out.split()
        if job_ids:
            await self.run("qdel", *job_ids, check=False)
