"""One allocation: the scheduler and its workers in ONE SLURM job of workers + 1 tasks.

The placement ``scheduler_placement: one_allocation`` of the SLURM form, and the mpi backend
(its MPI variant), submit one job ``sbatch --ntasks=<workers + 1>`` named ``dcl-<cluster id>``
whose tasks all run ``mpi_runner`` (a copy in the cluster's private directory). Task 0 is the
scheduler, on a compute node inside the job; every other task is one worker. How the tasks
learn their role is the launcher's choice:

- ``srun`` (the SLURM form): ``srun`` starts the tasks and each one runs dask-jobqueue's
  ``SLURMRunner``, which reads its rank from ``SLURM_PROCID``. No MPI is needed. The runner's
  third role (task 1 running the client's script) is not used: the notebook is the client.
- ``mpirun``, ``srun-pmix``, ``srun-pmi2`` (the mpi backend's form): dask-mpi under MPI.

The scheduler writes its address to ``scheduler.json`` in the cluster's private folder (0700);
the cluster's host process beside Jupyter (``OneAllocationJob``) waits for it and follows the
scheduler over its TLS RPC. Every process of the job uses the cluster's own TLS credentials
(dask config from the job's environment). No HTTP server of the job listens anywhere (the
runner replaces distributed's ``start_http_server`` first, see ``private_http``): no dashboard
link is offered. The size is fixed: adaptive scaling is refused at the request (400 naming
``scaling.adapt``), another size on a running cluster with the reason (409).

``OneAllocationJob`` answers what the batch base asks of a dask-jobqueue cluster (``scale``,
``close``, ``scheduler_info``, ``workers`` with their job ids ...), so the SLURM backend's
checks, job watching, logs and reaping by name apply to it unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import shlex
import time
from pathlib import Path
from typing import Any

from dask.utils import parse_bytes

from ...private import ClusterFiles
from ..base import Activity, Progress, require
from .job_scripts import job_script_file
from .jobqueue import job_name, job_script_directory, processes_per_job

log = logging.getLogger(__name__)

#: The placement's value (schema: ``scheduler_placement``), and the marker in a cluster's kwargs.
ONE_ALLOCATION = "one_allocation"
FIXED_SIZE = "a cluster in one allocation has a fixed size (one job of workers + 1 tasks)"
#: How the job starts its tasks: ``srun`` runs dask-jobqueue's SLURMRunner (no MPI); the
#: others run dask-mpi under MPI.
RUNNER = "srun"
LAUNCHERS = {
    RUNNER: ["srun", "--kill-on-bad-exit=1"],
    "mpirun": ["mpirun"],
    "srun-pmix": ["srun", "--mpi=pmix"],
    "srun-pmi2": ["srun", "--mpi=pmi2"],
}
#: How often the host reads the job's scheduler (its workers, for the card).
REFRESH_SECONDS = 1.0


def in_one_allocation(options: dict[str, Any]) -> bool:
    return options.get("scheduler_placement") == ONE_ALLOCATION


def is_allocation(kwargs: dict[str, Any]) -> bool:
    """Whether these cluster kwargs are a one-allocation job's (SLURM form or mpi backend)."""
    return kwargs.get("placement") == ONE_ALLOCATION


def refuse_adaptive(scaling: dict[str, Any], prefix: str) -> None:
    field = ".".join(filter(None, [prefix, "adapt"]))
    require("adapt" not in scaling, field, f"is not possible: {FIXED_SIZE}")


def check_request(backend: Any, options: dict[str, Any], scaling: dict[str, Any]) -> None:
    """What a launch in one allocation cannot do, refused naming the field (the request's
    options validated, with its scaling)."""
    if not in_one_allocation(options):
        return
    require(
        getattr(backend, "supports_one_allocation", False),  # a batch backend's
        "options.scheduler_placement",
        f"one_allocation is not available for {backend.title} (only SLURM runs it)",
    )
    refuse_adaptive(scaling, "scaling")
    require(
        processes_per_job(options) == 1,
        "options.processes",
        "must be 1 in one allocation: each task of the job runs one worker",
    )


def allocation_kwargs(
    options: dict[str, Any], log_directory: str, cluster_id: str, launcher: str
) -> dict[str, Any]:
    """The job's arguments from a SLURM or mpi form's options (the fields both forms have)."""
    extra = list(options["job_extra_directives"])
    extra += [f"--qos={options['qos']}"] if options.get("qos") else []
    extra += [f"--gres={options['gres']}"] if options.get("gres") else []
    return {
        "placement": ONE_ALLOCATION,
        "launcher": launcher,
        "job_name": job_name(cluster_id),
        **{k: options[k] for k in ("queue", "account", "cores", "memory", "walltime")},
        **{k: options[k] for k in ("interface", "local_directory", "python")},
        "job_extra_directives": extra,
        "job_directives_skip": list(options.get("job_directives_skip") or []),
        "job_script_prologue": list(options["job_script_prologue"]),
        "log_directory": os.path.abspath(os.path.expanduser(log_directory)),
    }


def with_credentials(kwargs: dict[str, Any], files: ClusterFiles) -> dict[str, Any]:
    return {
        **kwargs,
        "scheduler_file": str(files.directory / "scheduler.json"),
        "job_script_directory": str(job_script_directory(files)),
        "security": files.security_kwargs(),
        "worker_preload": str(files.worker_preload),
        "runner": str(files.mpi_runner),
    }


def reproduce_code(kwargs: dict[str, Any], scaling: dict[str, Any]) -> str:
    """The same cluster without the launcher (the preview's code): the job script submitted
    with its task count, and a client that finds the scheduler by its file."""
    tasks = int(scaling.get("workers", 1)) + 1
    return (
        "# Save the preview's job script as job.sh and submit it with its task count\n"
        "# (the first task runs the scheduler, every other one a worker):\n"
        f"#   sbatch --ntasks={tasks} job.sh\n"
        "from dask.distributed import Client\n"
        "from distributed.security import Security\n\n"
        f"security = Security(require_encryption=True, **{kwargs['security']!r})\n"
        f"client = Client(scheduler_file={kwargs['scheduler_file']!r}, security=security)\n"
        "client\n"
    )


def job_script(kwargs: dict[str, Any]) -> str:
    """The job's script; its task count is given at submission (``--ntasks``)."""
    q = shlex.quote
    memory = int(parse_bytes(kwargs["memory"]))
    mem_per_cpu = math.ceil(memory / kwargs["cores"] / 2**20)
    stem = os.path.join(kwargs["log_directory"], f"{kwargs['job_name']}-%j")
    directives = [f"-J {kwargs['job_name']}"]
    directives += [f"-p {kwargs['queue']}"] if kwargs["queue"] else []
    directives += [f"-A {kwargs['account']}"] if kwargs["account"] else []
    directives += [f"--cpus-per-task={kwargs['cores']}", f"--mem-per-cpu={mem_per_cpu}M"]
    directives += [f"-t {kwargs['walltime']}", f"-o {stem}.out", f"-e {stem}.err"]
    directives += kwargs["job_extra_directives"]
    skip = kwargs.get("job_directives_skip") or []
    directives = [d for d in directives if not any(s and s in d for s in skip)]
    env = {"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
    for role in ("scheduler", "worker", "client"):
        for part in ("cert", "key"):
            key = f"DASK_DISTRIBUTED__COMM__TLS__{role.upper()}__{part.upper()}"
            env[key] = kwargs["security"][f"tls_{role}_{part}"]
    env["DASK_DISTRIBUTED__COMM__TLS__CA_FILE"] = kwargs["security"]["tls_ca_file"]
    worker_options = {"dashboard_address": "127.0.0.1:0", "preload": [kwargs["worker_preload"]]}
    runner = kwargs["launcher"] == RUNNER
    command = [*LAUNCHERS[kwargs["launcher"]]]
    # srun in a batch step does not take the job's --cpus-per-task (SLURM 22.05 and later)
    command += [f"--cpus-per-task={kwargs['cores']}"] if runner else []
    command += [kwargs["python"], kwargs["runner"]] + (["--slurm-runner"] if runner else [])
    command += ["--scheduler-file", kwargs["scheduler_file"], "--protocol", "tls"]
    command += ["--nthreads", str(kwargs["cores"]), "--memory-limit", str(memory)]
    command += ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    command += ["--name", kwargs["job_name"], "--worker-options", json.dumps(worker_options)]
    command += ["--interface", kwargs["interface"]] if kwargs["interface"] else []
    if kwargs["local_directory"]:
        command += ["--local-directory", kwargs["local_directory"]]
    roles = "SLURMRunner" if runner else "dask-mpi"
    mpi_as_root = [
        # Open MPI refuses root unless told (test beds, containers)
        'if [ "$(id -u)" = 0 ]; then',
        "  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
        "fi",
    ]
    return "\n".join(
        [
            "#!/usr/bin/env bash",
            *(f"#SBATCH {d}" for d in directives),
            f"# tasks: sbatch --ntasks=<workers + 1> ({roles}: task 0 the scheduler, others "
            "a worker)",
            *kwargs["job_script_prologue"],
            *([] if runner else mpi_as_root),
            *(f"export {k}={q(v)}" for k, v in env.items()),
            " ".join(q(part) for part in command),
            "",
        ]
    )


class OneAllocationJob:
    """The host's handle on one job of workers + 1 tasks: submits it at the first ``scale``,
    finds its scheduler by the scheduler file, reads it over TLS (``identity``) every second.

    ``backend`` is the SLURM backend (``run``, ``job_states``); it treats this object as it
    treats a dask-jobqueue cluster."""

    #: seconds the scheduler may not answer before the cluster counts as lost (its job ended:
    #: cancelled, or at its walltime; or its node is gone)
    UNREACHABLE_SECONDS = 10.0
    #: seconds a call may take to connect: a dead scheduler's port refuses at once, and
    #: distributed would otherwise retry for its connect timeout (30 s) each time
    CONNECT_TIMEOUT = 3.0
    dashboard_link = None  # the scheduler's HTTP routes are closed inside the job

    def __init__(self, backend: Any, kwargs: dict[str, Any], progress: Progress | None):
        self.backend, self.kwargs, self.progress = backend, kwargs, progress or (lambda _: None)
        self.job_name: str = kwargs["job_name"]
        self.job_id: str | None = None
        self.workers_asked: int | None = None
        self.scheduler_address: str | None = None
        self.scheduler_info: dict[str, Any] = {}
        self.lost: str | None = None
        self._rpc: Any = None
        self._unanswered_since: float | None = None
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def workers(self) -> dict[str, OneAllocationJob]:
        """Worker name -> the job it runs in (this one: every worker is one of its tasks)."""
        if self.job_id is None:
            return {}
        return {str(w.get("name")): self for w in self.scheduler_info.get("workers", {}).values()}

    async def scale(self, n: int) -> None:
        if self.workers_asked is not None:
            if n != self.workers_asked:
                raise RuntimeError(
                    f"cannot scale to {n} workers: {FIXED_SIZE}; stop it and launch another"
                )
            return
        if n < 1:
            raise RuntimeError(f"a cluster in one allocation needs a worker ({FIXED_SIZE})")
        Path(self.kwargs["scheduler_file"]).unlink(missing_ok=True)
        Path(self.kwargs["log_directory"]).mkdir(mode=0o700, parents=True, exist_ok=True)
        script = job_script(self.kwargs)
        folder = Path(self.kwargs["job_script_directory"])
        with job_script_file(folder, script, self.job_name) as path:  # private, 0600, O_EXCL
            out = await self.backend.run("sbatch", "--parsable", f"--ntasks={n + 1}", str(path))
        self.job_id = out.strip().split(";")[0]
        self.workers_asked = n
        self.progress(f"job {self.job_id} submitted with {n + 1} tasks")

    def adapt(self, minimum: int = 0, maximum: int = 0) -> None:
        raise RuntimeError(f"adaptive scaling is not possible: {FIXED_SIZE}")

    async def _correct_state(self) -> None:
        """The batch base's wait after a scale: here, until the job's scheduler answers."""
        await self.wait_for_scheduler()

    async def wait_for_scheduler(self) -> None:
        """Until the job's scheduler answers; fails when the job ends before that."""
        path, seen_state = Path(self.kwargs["scheduler_file"]), None
        while True:
            if path.exists():
                try:
                    address = json.loads(path.read_text(encoding="utf-8"))["address"]
                except (ValueError, KeyError):
                    address = None  # being written
                if address:
                    self.scheduler_address = address
                    await self.refresh(raise_errors=True)
                    self._refreshing = asyncio.ensure_future(self._refresh_every_second())
                    return
            jobs = (await self.backend.job_states([self.job_name])).get(self.job_name, [])
            if not jobs:
                raise RuntimeError(f"job {self.job_id} ended before its scheduler started")
            job = jobs[0]
            state = job["state"] + (f" ({job['reason']})" if job["reason"] else "")
            if state != seen_state:
                self.progress(f"job {self.job_id}: {state}")
                seen_state = state
            await asyncio.sleep(0.5)

    async def _refresh_every_second(self) -> None:
        while not self.lost:
            await asyncio.sleep(REFRESH_SECONDS)
            await self.refresh()

    async def refresh(self, raise_errors: bool = False) -> None:
        from distributed.core import rpc
        from distributed.security import Security

        if self.scheduler_address is None or self.lost:
            return
        if self._rpc is None:
            security = Security(require_encryption=True, **self.kwargs["security"])
            args = security.get_connection_args("client")
            self._rpc = rpc(
                self.scheduler_address, connection_args=args, timeout=self.CONNECT_TIMEOUT
            )
        try:
            self.scheduler_info = await asyncio.wait_for(self._rpc.identity(), 10)
            self._unanswered_since = None
        except Exception as exc:
            if raise_errors:
                raise
            now = time.monotonic()
            if self._unanswered_since is None:
                self._unanswered_since = now
            elif now - self._unanswered_since >= self.UNREACHABLE_SECONDS:
                self.lost = (
                    f"the scheduler in job {self.job_id} stopped answering (its job ended?): "
                    f"{type(exc).__name__}"
                )

    async def activity(self) -> Activity | None:
        """Clients and tasks of the job's scheduler, asked over its RPC (``run_function``,
        as ``Client.run_on_scheduler`` does); ``None`` when it does not answer."""
        from distributed.protocol.pickle import dumps

        def read(dask_scheduler: Any) -> tuple[int, int]:
            # nested and self-contained: pickled by value, runs where this package may not be
            clients = dask_scheduler.clients or {}
            named = sum(1 for name in clients if not str(name).startswith("fire-and-forget"))
            return named, len(dask_scheduler.tasks or {})

        if self._rpc is None or self.lost:
            return None
        try:
            call = self._rpc.run_function(function=dumps(read), args=dumps(()), kwargs=dumps({}))
            answer = await asyncio.wait_for(call, 10)
        except Exception as exc:
            log.debug("the scheduler of job %s did not say its activity: %r", self.job_id, exc)
            return None
        if answer.get("status") != "OK":
            return None
        clients, tasks = answer["result"]
        return Activity(clients, tasks)

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
        if self._rpc is not None:
            with contextlib.suppress(Exception):  # the job is cancelled by name next
                await asyncio.wait_for(self._rpc.terminate(), 10)
            await self._rpc.close_rpc()
        self.lost = self.lost or "closed"
