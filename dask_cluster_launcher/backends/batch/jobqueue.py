"""The part of the SLURM and SGE backends that is the same: dask-jobqueue clusters.

A subclass names its dask-jobqueue classes, how to discover the site's queues, and how to read
job states with one batched command per poll.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from dask.utils import parse_bytes, parse_timedelta

from ...private import ClusterFiles
from .. import network
from ..base import Backend, require
from . import commands, dask_config, submission
from .accounting import AccountedJob
from .queues import Queue, hms, most_generous, walltime_seconds
from .scratch import scratch_prologue, worker_local_directory
from .worker_start import NO_WORKER_DASHBOARD, fork_prologue

JOB_NAME_PREFIX = "dcl-"
"""Every batch job is named ``dcl-<cluster id>``: leftovers can be found and reaped by name."""

#: Scheduler options the launcher owns (free ports, private dashboard, TLS): a user's
#: ``scheduler-options`` cannot move them.
_LAUNCHER_SCHEDULER_OPTIONS = {"port", "dashboard_address", "dashboard", "protocol", "security"}


def processes_per_job(options: dict[str, Any]) -> int:
    """The form's worker processes per job, or dask-jobqueue's own choice for the cores when it
    is left empty (its ``processes: null``)."""
    if options.get("processes"):
        return int(options["processes"])
    from distributed.deploy.utils import nprocesses_nthreads

    return int(nprocesses_nthreads(options["cores"])[0])


def job_name(cluster_id: str) -> str:
    return f"{JOB_NAME_PREFIX}{cluster_id}"


def job_script_directory(files: ClusterFiles) -> Path:
    """Where a cluster's job scripts are written (see ``job_scripts.py``): a folder of the
    cluster's private directory, removed with it."""
    return files.directory / "jobs"


class ExistingForPreview:
    """A log directory for a preview's Job. dask-jobqueue's Job creates a missing log directory;
    a preview must leave the disk alone. The Job writes the path into the script with ``%s``
    (the real path: the preview is the script a job gets, skip filter included) and tests it
    with ``os.path.exists`` (through ``__fspath__``: an existing directory, nothing made)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __str__(self) -> str:
        return self.path

    def __fspath__(self) -> str:
        return os.sep


class JobQueueBackend(Backend):
    config_name: str  # "slurm" / "sge"
    queue_field_title: str = "queue"
    required_commands: tuple[str, ...]
    site_cache_seconds = 10.0
    #: Seconds a site query may take; a batch controller that is down must not hang the form.
    site_timeout = 5.0
    #: Put in front of every batch command, the launcher's and dask-jobqueue's (server setting
    #: ``batch_command_prefix``): ``("ssh", "login01")``, a wrapper script, ...
    command_prefix: tuple[str, ...] = ()
    #: Whether the form offers ``scheduler_placement: one_allocation`` (see ``allocation``).
    supports_one_allocation = False

    def __init__(self) -> None:
        self._site: list[Queue] = []
        self._site_error: str | None = None
        self._site_time = -math.inf
        self._site_lock = asyncio.Lock()
        self._site_refresh: asyncio.Future[None] | None = None  # keeps the task referenced

    # --- the site -------------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        missing = commands.missing_commands(*self.required_commands, prefix=self.command_prefix)
        if missing:
            return f"{', '.join(missing)} not found on this server's PATH"
        return None

    async def run(self, *command: str, check: bool = True) -> str:
        """A batch command's stdout, run through the site's command prefix."""
        return await commands.run(*command, check=check, prefix=self.command_prefix)

    def jobqueue_class(self) -> type:
        """The dask-jobqueue cluster class (SLURMCluster, SGECluster), imported lazily."""
        raise NotImplementedError

    def cluster_class(self) -> type:
        # the same class, its jobs submitted through the command prefix a few at a time and
        # cancelled together (see submission.py)
        return submission.launcher_cluster_class(self.jobqueue_class(), self.command_prefix)

    async def discover_queues(self) -> list[Queue]:
        raise NotImplementedError

    async def queues(self) -> list[Queue]:
        """The site's queues: read once, then refreshed in the background when older than
        ``site_cache_seconds``, so that neither the form nor a launch waits for the site."""
        age = time.monotonic() - self._site_time
        if self._site_time == -math.inf:
            await self._read_site()
        elif age > self.site_cache_seconds and not self._site_lock.locked():
            self._site_refresh = asyncio.ensure_future(self._read_site())
        return self._site

    async def _read_site(self) -> None:
        asked = time.monotonic()
        async with self._site_lock:
            if self._site_time >= asked:
                return  # another caller read it while this one waited
            try:
                discovery = self.discover_queues()
                self._site = await asyncio.wait_for(discovery, self.site_timeout)
                self._site_error = None
            except asyncio.TimeoutError:
                self._site = []
                self._site_error = f"the site did not answer within {self.site_timeout:g} s"
            except commands.BatchCommandError as exc:
                self._site, self._site_error = [], str(exc)
            self._site_time = time.monotonic()

    async def form_schema(self) -> dict[str, Any]:
        schema = await super().form_schema()
        properties = schema["properties"]
        queues = await self.queues()
        if queues:
            properties["queue"]["oneOf"] = [{"const": "", "title": "(site default)"}] + [
                {"const": q.name, "title": q.title()} for q in queues
            ]
            # the limits, machine-readable, for the sidebar's summary and per-queue maxima
            limits = ("name", "state", "time_limit", "cpus", "memory", "default")
            properties["queue"]["x-queues"] = [{k: getattr(q, k) for k in limits} for q in queues]
        elif self._site_error:
            properties["queue"]["description"] += f" Could not list them: {self._site_error}"
        interfaces = network.ipv4_interfaces()
        properties["scheduler_interface"]["oneOf"] = [
            {"const": name, "title": f"{name} ({address})"} for name, address in interfaces.items()
        ]
        placement = properties.get("scheduler_placement")
        if placement and not self.supports_one_allocation:  # SLURM only, for now
            choices = placement["oneOf"]
            placement["oneOf"] = [c for c in choices if c["const"] != "one_allocation"]
        return schema

    # --- defaults: dask-jobqueue's, then the user's dask config --------------------------------
    def defaults(self) -> dict[str, Any]:
        """The schema's defaults, dask-jobqueue's shipped defaults for the fields that map to
        one (``walltime`` 00:30:00, ``death-timeout`` 60, ...), then the user's dask config."""
        values = super().defaults()
        properties = self.static_schema()["properties"]
        values.update(dask_config.shipped_form_defaults(self.config_name, properties))
        values["python"] = sys.executable  # dask-jobqueue's choice when python is null
        values["scheduler_interface"] = network.default_interface(network.ipv4_interfaces())
        values.update(self.config_defaults())
        return values

    def config_defaults(self) -> dict[str, Any]:
        """What the user set in ``jobqueue.<system>.*`` (old key names too), whatever the
        value, and the interface of its ``scheduler-options``."""
        properties = self.static_schema()["properties"]
        found = dask_config.section_values(self.config_name, properties)
        scheduler = dask_config.scheduler_options(self.config_name)
        if scheduler.get("interface"):
            found["scheduler_interface"] = scheduler["interface"]
        elif scheduler.get("host"):
            found["scheduler_interface"] = ""  # the user's host address instead of an interface
        return found

    def config_profiles(self) -> list[dict[str, Any]]:
        """Read-only profiles: the named sections of the user's dask config this backend's
        class can use (``SGECluster(config_name=name)``), see ``dask_config``."""
        return dask_config.named_profiles(self, self.config_name)

    # --- validation ---------------------------------------------------------------------------
    async def check_consistency(self, options: dict[str, Any]) -> None:
        cores, processes = options["cores"], processes_per_job(options)
        require(
            cores % processes == 0,
            "options.processes",
            f"must divide the cores per job ({cores}) so each worker gets whole cores",
        )
        section = options["config_name"]
        if section:
            system, _ = dask_config.system_of(dask_config.named_sections().get(section, {}))
            require(
                system == self.config_name,
                "options.config_name",
                f"your dask config has no {self.title} section jobqueue.{section}",
            )
        if options["lifetime_stagger"]:
            require(
                bool(options["lifetime"]), "options.lifetime_stagger", "needs a worker lifetime"
            )
        walltime = walltime_seconds(options["walltime"])
        require(walltime > 0, "options.walltime", "must be longer than zero")
        if options["lifetime"]:
            require(
                parse_timedelta(options["lifetime"]) < walltime,
                "options.lifetime",
                f"must be shorter than the walltime ({options['walltime']})",
            )
        interfaces = network.ipv4_interfaces()
        chosen = options["scheduler_interface"]
        require(
            not chosen or chosen in interfaces,
            "options.scheduler_interface",
            f"this server has no interface {chosen!r} with an IPv4 address "
            f"(it has {', '.join(interfaces)})",
        )
        await self._check_queue(options, walltime)

    async def _check_queue(self, options: dict[str, Any], walltime: int) -> None:
        queues = await self.queues()
        if not queues:
            return
        by_name = {q.name: q for q in queues}
        name = options["queue"]
        require(
            not name or name in by_name,
            "options.queue",
            f"the site has no {self.queue_field_title} {name!r} (it has {', '.join(by_name)})",
        )
        default = [q for q in queues if q.default]
        # the named queue, else the default one, else any queue may take the jobs
        candidates = [by_name[name]] if name else default or queues
        label = candidates[0].name if len(candidates) == 1 else "any"
        what = f"the {label} {self.queue_field_title}"
        time_limit = most_generous(q.time_limit for q in candidates)
        if time_limit is not None:
            require(
                walltime <= time_limit,
                "options.walltime",
                f"is longer than {what}'s limit ({hms(time_limit)})",
            )
        cpus = most_generous(q.cpus for q in candidates)
        if cpus is not None:
            require(
                options["cores"] <= cpus,
                "options.cores",
                f"is more than a node of {what} has ({cpus})",
            )
        memory = most_generous(q.memory for q in candidates)
        if memory is not None:
            require(
                parse_bytes(options["memory"]) <= memory,
                "options.memory",
                f"is more than a node of {what} has ({memory / 2**30:.1f} GiB)",
            )
        if options.get("scheduler_placement") == "own_job":  # the scheduler's job must fit too
            own = walltime_seconds(options["scheduler_walltime"] or options["walltime"])
            too_long = time_limit is not None and own > time_limit
            require(not too_long, "options.scheduler_walltime", f"is longer than {what}'s limit")
            too_many = cpus is not None and options["scheduler_cores"] > cpus
            require(not too_many, "options.scheduler_cores", f"is more than a node of {what} has")
            too_big = memory is not None and parse_bytes(options["scheduler_memory"]) > memory
            require(not too_big, "options.scheduler_memory", f"is more than a node of {what} has")

    # --- building the cluster -----------------------------------------------------------------
    def worker_args(self, options: dict[str, Any]) -> list[str]:
        # dask-jobqueue's pattern for walltime-limited jobs: the worker leaves (and its job
        # ends) after --lifetime, spread by --lifetime-stagger, and adaptive scaling submits a
        # new job in its place. (--lifetime-restart would restart it inside the same job, which
        # the walltime then kills anyway.)
        args = list(options["worker_extra_args"])
        if options["lifetime"]:
            args += ["--lifetime", options["lifetime"]]
        if options["lifetime_stagger"]:
            args += ["--lifetime-stagger", options["lifetime_stagger"]]
        return args

    def scheduler_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The user's ``scheduler-options`` (dask config), the form's interface, and what the
        launcher owns: a free port and a dashboard moved to a private socket."""
        section = options["config_name"] or self.config_name
        merged = {
            key: value
            for key, value in dask_config.scheduler_options(section).items()
            if key not in _LAUNCHER_SCHEDULER_OPTIONS
        }
        chosen = options["scheduler_interface"]
        if chosen or "host" not in merged:
            merged.pop("host", None)
            merged["interface"] = chosen or network.default_interface(network.ipv4_interfaces())
        # moved to a private Unix socket once the scheduler runs
        return {**merged, "port": 0, "dashboard_address": "127.0.0.1:0"}

    def common_kwargs(self, options: dict[str, Any], cluster_id: str) -> dict[str, Any]:
        log_directory = options["log_directory"] or self.private_dir.log_directory(cluster_id)
        kwargs: dict[str, Any] = {
            "cores": options["cores"],
            "processes": processes_per_job(options),
            "memory": options["memory"],
            "walltime": options["walltime"],
            "job_name": job_name(cluster_id),
            "worker_extra_args": self.worker_args(options),
            "job_script_prologue": list(options["job_script_prologue"]),
            # absolute here: hosts and jobs run in the private directory, not where Jupyter started
            "log_directory": os.path.abspath(os.path.expanduser(log_directory)),
            "python": options["python"],
            "death_timeout": options["death_timeout"],
            "job_directives_skip": list(options["job_directives_skip"]),
            "scheduler_options": self.scheduler_options(options),
            # mutual TLS with the cluster's own credentials (see dask_cluster_launcher.private)
            "protocol": "tls://",
            "security": True,
            "shared_temp_directory": str(self.private_dir.root),
        }
        # empty lists too: None would make dask-jobqueue read its config again, past the form's
        # checks (the form already starts from that config); an empty string field means none
        if options["interface"]:
            kwargs["interface"] = options["interface"]
        # every worker spills into (and imports its preload from) a folder its job makes, and
        # is forked from its nanny (see worker_start.py)
        kwargs["job_script_prologue"] = [
            *scratch_prologue(options["local_directory"]),
            *fork_prologue(),
            *kwargs["job_script_prologue"],
        ]
        kwargs["local_directory"] = worker_local_directory()
        if options["config_name"]:
            kwargs["config_name"] = options["config_name"]
        return kwargs

    def with_credentials(self, kwargs: dict[str, Any], files: ClusterFiles) -> dict[str, Any]:
        # Workers close their HTTP port at start (the preload), binding it to loopback until then.
        preload = ["--preload", str(files.worker_preload)]
        loopback = [NO_WORKER_DASHBOARD, "--dashboard-address", "127.0.0.1:0"]
        return {
            **kwargs,
            "security": files.security(),
            "worker_extra_args": [*kwargs.get("worker_extra_args", []), *preload, *loopback],
            # job scripts are written there, never in the shared temporary directory
            "job_script_directory": str(job_script_directory(files)),
        }

    def job_script(self, kwargs: dict[str, Any]) -> str | None:
        """The script each job runs, built by dask-jobqueue itself from the same arguments."""
        cluster_only = {"scheduler_options", "shared_temp_directory"}
        job_kwargs = {k: v for k, v in kwargs.items() if k not in cluster_only}

        if job_kwargs.get("log_directory") is not None:
            job_kwargs["log_directory"] = ExistingForPreview(job_kwargs["log_directory"])
        job_cls: Any = self.cluster_class().job_cls  # type: ignore[attr-defined]
        job = job_cls("tls://<scheduler-address>:0", name="<worker-name>", **job_kwargs)
        return str(job.job_script())

    # --- lifecycle and watching -----------------------------------------------------------------
    async def submitted(self, cluster: Any) -> None:
        # SpecCluster submits jobs in the background and only logs failures: wait for the
        # submission so a refused job (bad account, queue...) fails the launch with sbatch's words.
        await cluster._correct_state()

    async def close(self, cluster: Any) -> None:
        self._drop_unsubmitted_jobs(cluster)
        try:
            await super().close(cluster)
        finally:
            await self.reap(cluster.job_name)

    @staticmethod
    def _drop_unsubmitted_jobs(cluster: Any) -> None:
        """Forget jobs that never reached the queue (a refused submission leaves them behind,
        and SpecCluster.close would fail on them); reaping by name catches any in flight."""
        from distributed.core import Status

        for name, job in list(cluster.workers.items()):
            if getattr(job, "job_id", None) is None:
                job.status = Status.failed
                cluster.workers.pop(name, None)
                cluster.worker_spec.pop(name, None)

    async def reap_leftovers(self, cluster_id: str) -> None:
        await self.reap(job_name(cluster_id))

    async def reap(self, name: str) -> None:
        """Cancel every job still queued under this job name (belt and braces after close)."""
        raise NotImplementedError

    def worker_job_id(self, cluster: Any, worker_name: str) -> str | None:
        # a job with several worker processes names them <spec>-<i>: a lookup, not a scan
        jobs = getattr(cluster, "workers", {})
        job = jobs.get(worker_name) or jobs.get(worker_name.rpartition("-")[0])
        return getattr(job, "job_id", None)

    async def job_states(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Job name -> jobs ``{job_id, state, reason, host, time_left}``, from ONE batched
        command; ``time_left``: seconds (whole minutes) a running job has left, ``None`` when
        unknown or unlimited."""
        raise NotImplementedError

    #: Whether ``account_jobs`` reads the batch system's accounting (ended jobs then wait a
    #: few polls for it, see ``job_ends``).
    keeps_accounting = False
    #: Seconds the batch system may take to write an ended job's record (its accounting is
    #: asked until then, even past ``job_ends.TRIES`` polls, and a stop's usage waits for it).
    accounting_delay = 0.0

    async def account_jobs(
        self, job_ids: list[str], names: Collection[str] = ()
    ) -> dict[str, AccountedJob]:
        """Job id -> how each of these ended jobs ended, from ONE accounting call for all of
        them (see ``accounting``); a job the accounting does not know (yet) is left out.
        ``names``: also every ended job of these job names the accounting knows, where the
        queue may never have listed them (Grid Engine forgets a job the moment it ends).
        ``{}`` where the batch system keeps no accounting the launcher reads."""
        return {}

    # --- the scheduler in a batch job of its own (see ``hosting.job_host``) -------------------
    #: Environment variables that carry a job's id inside it (the id ``job_states`` names).
    job_id_variables: tuple[str, ...] = ()
    #: The words ``job_states`` uses for a job that has not ended: queued, held, starting,
    #: running or suspended. A system adds its own (SLURM's CONFIGURING, ...).
    unended_states: frozenset[str] = frozenset(
        ("PENDING", "HELD", "STARTING", "RUNNING", "SUSPENDED")
    )

    def own_job_id(self, environ: Mapping[str, str]) -> str | None:
        """The id of the batch job a process with this environment runs in (None: none)."""
        return next((environ[name] for name in self.job_id_variables if environ.get(name)), None)

    def job_has_ended(self, state: str) -> bool:
        """Whether a job ``job_states`` lists in ``state`` has ended (or never will start)."""
        return state not in self.unended_states

    def scheduler_job_kwargs(self, job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        """The dask-jobqueue arguments of the scheduler's own job: ``job`` (the workers', with
        the scheduler's cores and memory and its walltime as the form's HH:MM:SS) as this
        system takes them."""
        return job

    async def poll_jobs(self, cluster_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        by_name = {job_name(cluster_id): cluster_id for cluster_id in cluster_ids}
        if not by_name:
            return {}
        states = await self.job_states(list(by_name))
        return {cluster_id: states.get(name, []) for name, cluster_id in by_name.items()}
