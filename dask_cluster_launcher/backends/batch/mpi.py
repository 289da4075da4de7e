"""MPI: one SLURM job running dask-mpi, for sites that cap the number of jobs per user.

``sbatch --ntasks=<workers + 1>`` runs dask-mpi under ``mpirun`` (or ``srun --mpi=pmix``),
through ``mpi_runner`` (a copy in the private directory): rank 0 is the scheduler, on a compute
node inside the job; every other rank is one worker. The scheduler writes its address to a
scheduler file in the cluster's private directory; the cluster's host process
(``private_cluster``) waits for it and then reads the workers over Dask's RPC. Every process of
the job uses the cluster's own TLS credentials (dask config from the environment: distributed
reads its default ``Security`` from there).

The site checks, job watching (one ``squeue --me`` by name ``dcl-<id>``: another user's job
of that name is not this cluster's), job logs and reaping (``scancel --me --name``) are the
SLURM backend's. The job script is written in the cluster's private folder (see
``job_scripts.py``). The size is fixed: scaling to another size or
adaptive scaling is refused with the reason. No HTTP server of the job listens anywhere (the
runner replaces distributed's ``start_http_server`` before dask-mpi starts, see
``private_http``): no dashboard link is offered, and the relay route says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import os
import shlex
from pathlib import Path
from typing import Any

from dask.utils import parse_bytes

from ...private import ClusterFiles
from ..base import Activity, Backend, Progress, require
from .job_scripts import job_script_file
from .jobqueue import job_name, job_script_directory
from .slurm import SLURMBackend

log = logging.getLogger(__name__)

FIXED_SIZE = "an MPI cluster has a fixed size (one job of workers + 1 tasks)"
LAUNCHERS = {
    "mpirun": ["mpirun"],
    "srun-pmix": ["srun", "--mpi=pmix"],
    "srun-pmi2": ["srun", "--mpi=pmi2"],
}
#: What the SLURM checks read that this form does not have.
_NOT_IN_THIS_FORM = {
    "processes": 1,
    "config_name": "",
    "lifetime": "",
    "lifetime_stagger": "",
    "scheduler_interface": "",
    "job_directives_skip": [],
}
#: Fields whose live site choices (partitions, accounts, QOS, GRES) come from the SLURM form.
_SITE_FIELDS = ("queue", "account", "qos", "gres")


class MPIBackend(SLURMBackend):
    name = "mpi"
    title = "MPI (one SLURM job)"
    schema_file = "backends/mpi.yaml"
    cluster_class_path = "dask_cluster_launcher.backends.batch.mpi.MPIJobCluster"
    dashboard_on_this_machine = False

    def cluster_class(self) -> type:
        return MPIJobCluster

    async def form_schema(self) -> dict[str, Any]:
        schema = await Backend.form_schema(self)
        slurm = copy.copy(self)  # the same site cache, the SLURM form
        slurm.schema_file = SLURMBackend.schema_file
        site = (await SLURMBackend.form_schema(slurm))["properties"]
        for key in _SITE_FIELDS:
            schema["properties"][key] = site[key]
        return schema

    def defaults(self) -> dict[str, Any]:
        # only this form's fields: the sidebar sends the defaults back with a launch
        properties = self.static_schema()["properties"]
        return {k: v for k, v in super().defaults().items() if k in properties}

    async def check_consistency(self, options: dict[str, Any]) -> None:
        await super().check_consistency({**_NOT_IN_THIS_FORM, **options})

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        extra = list(options["job_extra_directives"])
        extra += [f"--qos={options['qos']}"] if options["qos"] else []
        extra += [f"--gres={options['gres']}"] if options["gres"] else []
        log_directory = options["log_directory"] or self.private_dir.log_directory(cluster_id)
        return {
            "job_name": job_name(cluster_id),
            **{k: options[k] for k in ("queue", "account", "cores", "memory", "walltime")},
            **{k: options[k] for k in ("interface", "local_directory", "python", "launcher")},
            "job_extra_directives": extra,
            "job_script_prologue": list(options["job_script_prologue"]),
            "log_directory": os.path.expanduser(log_directory),
        }

    def with_credentials(self, kwargs: dict[str, Any], files: ClusterFiles) -> dict[str, Any]:
        return {
            **kwargs,
            "scheduler_file": str(files.directory / "scheduler.json"),
            "job_script_directory": str(job_script_directory(files)),
            "security": files.security_kwargs(),
            "worker_preload": str(files.worker_preload),
            "runner": str(files.mpi_runner),
        }

    def job_script(self, kwargs: dict[str, Any]) -> str | None:
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
        env = {"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
        for role in ("scheduler", "worker", "client"):
            for part in ("cert", "key"):
                key = f"DASK_DISTRIBUTED__COMM__TLS__{role.upper()}__{part.upper()}"
                env[key] = kwargs["security"][f"tls_{role}_{part}"]
        env["DASK_DISTRIBUTED__COMM__TLS__CA_FILE"] = kwargs["security"]["tls_ca_file"]
        worker_options = {"dashboard_address": "127.0.0.1:0", "preload": [kwargs["worker_preload"]]}
        command = [*LAUNCHERS[kwargs["launcher"]], kwargs["python"], kwargs["runner"]]
        command += ["--scheduler-file", kwargs["scheduler_file"], "--protocol", "tls"]
        command += ["--nthreads", str(kwargs["cores"]), "--memory-limit", str(memory)]
        command += ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
        command += ["--name", kwargs["job_name"], "--worker-options", json.dumps(worker_options)]
        command += ["--interface", kwargs["interface"]] if kwargs["interface"] else []
        if kwargs["local_directory"]:
            command += ["--local-directory", kwargs["local_directory"]]
        return "\n".join(
            [
                "#!/usr/bin/env bash",
                *(f"#SBATCH {d}" for d in directives),
                "# tasks: sbatch --ntasks=<workers + 1> (rank 0: the scheduler; others: a worker)",
                *kwargs["job_script_prologue"],
                # Open MPI refuses root unless told (test beds, containers)
                'if [ "$(id -u)" = 0 ]; then',
                "  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                "fi",
                *(f"export {k}={q(v)}" for k, v in env.items()),
                " ".join(q(part) for part in command),
                "",
            ]
        )

    async def start(
        self,
        kwargs: dict[str, Any],
        progress: Progress | None = None,
        files: ClusterFiles | None = None,
    ) -> Any:
        return MPIJobCluster(self, kwargs, progress)

    async def scale(self, cluster: Any, n: int) -> None:
        await cluster.scale(n)

    def config_profiles(self) -> list[dict[str, Any]]:
        return []  # a jobqueue.<name> section is a SLURMCluster's (offered by the SLURM backend)

    def check_scaling(self, scaling: dict[str, Any], prefix: str) -> None:
        field = ".".join(filter(None, [prefix, "adapt"]))
        require("adapt" not in scaling, field, f"is not possible: {FIXED_SIZE}")

    async def adapt(self, cluster: Any, minimum: int, maximum: int) -> None:
        raise RuntimeError(f"adaptive scaling is not possible: {FIXED_SIZE}")

    async def submitted(self, cluster: Any) -> None:
        await cluster.wait_for_scheduler()

    async def close(self, cluster: Any) -> None:
        try:
            await cluster.close()
        finally:
            await self.reap(cluster.job_name)

    def lost(self, cluster: Any) -> str | None:
        return cluster.lost

    def addresses(self, cluster: Any) -> tuple[str | None, str | None]:
        return cluster.scheduler_address, None  # the dashboard stays on the compute node

    async def activity(self, cluster: Any) -> Activity | None:
        return await cluster.activity()

    async def workers(self, cluster: Any) -> list[dict[str, Any]]:
        await cluster.refresh()
        return await super().workers(cluster)

    def worker_job_id(self, cluster: Any, worker_name: str) -> str | None:
        return cluster.job_id


class MPIJobCluster:
    """The launcher's handle on one dask-mpi job: submits it at the first ``scale``, finds its
    scheduler by the scheduler file, reads the workers with ``identity`` over TLS."""

    #: identity calls failing in a row (about one a second) before the cluster counts as lost
    UNREACHABLE = 10

    def __init__(self, backend: MPIBackend, kwargs: dict[str, Any], progress: Progress | None):
        self.backend, self.kwargs, self.progress = backend, kwargs, progress or (lambda _: None)
        self.job_name: str = kwargs["job_name"]
        self.job_id: str | None = None
        self.workers_asked: int | None = None
        self.scheduler_address: str | None = None
        self.scheduler_info: dict[str, Any] = {}
        self.lost: str | None = None
        self._rpc: Any = None
        self._failures = 0

    async def scale(self, n: int) -> None:
        if self.workers_asked is not None:
            if n != self.workers_asked:
                raise RuntimeError(
                    f"cannot scale to {n} workers: {FIXED_SIZE}; stop it and launch another"
                )
            return
        require_workers(n)
        Path(self.kwargs["scheduler_file"]).unlink(missing_ok=True)
        Path(self.kwargs["log_directory"]).mkdir(mode=0o700, parents=True, exist_ok=True)
        script = self.backend.job_script(self.kwargs) or ""
        folder = Path(self.kwargs["job_script_directory"])
        with job_script_file(folder, script, self.job_name) as path:  # private, 0600, O_EXCL
            out = await self.backend.run("sbatch", "--parsable", f"--ntasks={n + 1}", str(path))
        self.job_id = out.strip().split(";")[0]
        self.workers_asked = n
        self.progress(f"job {self.job_id} submitted with {n + 1} tasks")

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

    async def refresh(self, raise_errors: bool = False) -> None:
        from distributed.core import rpc
        from distributed.security import Security

        if self.scheduler_address is None or self.lost:
            return
        if self._rpc is None:
            security = Security(require_encryption=True, **self.kwargs["security"])
            args = security.get_connection_args("client")
            self._rpc = rpc(self.scheduler_address, connection_args=args)
        try:
            self.scheduler_info = await asyncio.wait_for(self._rpc.identity(), 10)
            self._failures = 0
        except Exception as exc:
            if raise_errors:
                raise
            self._failures += 1
            if self._failures >= self.UNREACHABLE:
                self.lost = f"the job's scheduler stopped answering ({type(exc).__name__})"

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
        if self._rpc is not None:
            with contextlib.suppress(Exception):  # the job is cancelled by name next
                await asyncio.wait_for(self._rpc.terminate(), 10)
            await self._rpc.close_rpc()
        self.lost = self.lost or "closed"


def require_workers(n: int) -> None:
    if n < 1:
        raise RuntimeError(f"an MPI cluster needs at least one worker ({FIXED_SIZE})")
