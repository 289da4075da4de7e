"""A cluster host inside a batch job of its own: the scheduler on a compute node.

The option ``scheduler_placement: own_job`` (SLURM, SGE, PBS, LSF, HTCondor) submits the
cluster's host process as one small batch job, named ``dcl-<cluster id>`` like the workers (a
leftover is found and cancelled by that one name), with cores, memory and walltime of its own.
Its job script is made by the backend's own dask-jobqueue job class (so the site's directives,
prefix and prologue apply as to the workers) and written in the cluster's private folder (0600,
see ``job_scripts``); it runs ``python -m dask_cluster_launcher.run_host SPEC.json``. What
differs between the systems is the backend's (``JobQueueBackend``): how its job takes the
scheduler's size (``scheduler_job_kwargs``), where a job finds its own id
(``own_job_id``: ``SLURM_JOB_ID``, ``JOB_ID``, ``PBS_JOBID``, ``LSB_JOBID``, HTCondor's job
ad) and which of its job states mean the job has ended (``job_has_ended``).

Inside the job the host:
- listens for its supervisor on the node's routable address (not loopback), TLS with the
  cluster's own credentials, as a host beside Jupyter does on loopback;
- runs the scheduler on the node's interface (the form's interface is the Jupyter server's);
- writes its record, with the job id, in the records directory the supervisor watches;
- submits the workers from the compute node (the site must let compute nodes submit).

The dashboard is served on the host's private Unix socket, as beside Jupyter, which the
Jupyter server (on another machine in general) cannot open. The host also listens on the
node's address with TLS, requiring a client certificate signed by the cluster's own CA, and
pipes each connection to that socket; the Jupyter server relays the dashboard from a private
socket of its own piped to that listener (see ``dashboard_tunnel``): authenticated by Jupyter
in the browser, TLS from the Jupyter server to the node, and no port anyone can use without
the cluster's credentials. The listener's address is in the host's record.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..private import ClusterFiles
from .dashboard_tunnel import NodeDashboardListener
from .processes import HostGone, HostProcess
from .records import HostSpec, read_records

#: The option's values (schema: ``scheduler_placement``).
BESIDE_JUPYTER = "beside_jupyter"
OWN_JOB = "own_job"
#: How often the records directory is looked at while the scheduler's job starts, and how
#: often the job's state is asked meanwhile (one ``squeue``/``qstat``/``bjobs``/``condor_q``).
RECORD_POLL_SECONDS = 0.2
JOB_POLL_SECONDS = 2.0
#: What the card says of a scheduler's job in these states, with the batch system's reason.
_WAITING = {"PENDING": "waiting in the queue", "HELD": "held"}
#: Job kwargs of the workers the scheduler's job does not take (its own cores, memory and
#: walltime replace theirs; one process; no GPUs).
_SCHEDULER_JOB_DROPS = {"scheduler_options", "shared_temp_directory", "protocol", "security"}


def in_own_job(options: dict[str, Any]) -> bool:
    return options.get("scheduler_placement") == OWN_JOB


def record_job_id(spec: HostSpec, backend: Any) -> str | None:
    """The job id a host's record carries: its own batch job's, when it runs in one."""
    return backend.own_job_id(os.environ) if in_own_job(spec.options) else None


def scheduler_job_kwargs(kwargs: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The dask-jobqueue job arguments of the scheduler's job: the workers' (queue, account,
    prologue, log folder, job name) with the scheduler's cores, memory and walltime."""
    job = {k: v for k, v in kwargs.items() if k not in _SCHEDULER_JOB_DROPS}
    job.update(
        cores=options["scheduler_cores"],
        processes=1,
        memory=options["scheduler_memory"],
        walltime=options["scheduler_walltime"] or options["walltime"],
    )
    return job


def host_command(spec: HostSpec, spec_path: Path, package_path: str | None) -> str:
    """The job script's command: the host, run in the private directory (``-m`` puts the
    working directory first on ``sys.path``: a notebook folder's modules are never imported)."""
    python = spec.python or sys.executable
    run_host = ["exec", python, "-m", "dask_cluster_launcher.run_host", str(spec_path)]
    words = [f"cd {shlex.quote(spec.private_root)}", shlex.join(run_host)]
    if package_path:  # a kernel's Python runs this package from its source
        words.insert(
            0, f'export PYTHONPATH={shlex.quote(package_path)}"${{PYTHONPATH:+:$PYTHONPATH}}"'
        )
    return " && ".join(words)


def scheduler_job(
    backend: Any, kwargs: dict[str, Any], spec: HostSpec, command: str, files: ClusterFiles
) -> Any:
    """The backend's dask-jobqueue job (its launcher class: private job scripts, the site's
    command prefix) for the host, its command replaced by ``command``."""
    from ..backends.batch.jobqueue import job_script_directory

    job_kwargs = backend.scheduler_job_kwargs(
        scheduler_job_kwargs(kwargs, spec.options), spec.options
    )
    job_cls = backend.cluster_class().job_cls
    job = job_cls(
        "tls://<none>:0",
        name=f"scheduler-{spec.cluster_id}",
        job_script_directory=str(job_script_directory(files)),
        **job_kwargs,
    )
    if "%(job_script_prologue)s" not in job._script_template:
        # a job of one command line (HTCondor's): dask-jobqueue joins the prologue into it
        command = "; ".join([*(job._job_script_prologue or []), command])
    job._command_template = command
    return job


def preview_script(
    backend: Any, kwargs: dict[str, Any], options: dict[str, Any], python: str | None
) -> str | None:
    """The scheduler's job script a launch with these options would submit (None beside
    Jupyter); nothing is written."""
    if not in_own_job(options):
        return None
    root = str(backend.private_dir.root)
    spec = HostSpec("<cluster-id>", "preview", backend.name, {}, {}, root, "", options=options)
    spec.python = python
    files = backend.private_dir.cluster("<cluster-id>")
    command = host_command(spec, files.directory / "host.json", None)
    log_directory = kwargs.get("log_directory")
    if log_directory is not None:
        # the batch backends' module: imported when a batch preview asks (hosts of local
        # clusters import this module too)
        from ..backends.batch.jobqueue import ExistingForPreview

        kwargs = {**kwargs, "log_directory": ExistingForPreview(log_directory)}
    return str(scheduler_job(backend, kwargs, spec, command, files).job_script())


async def submit_host_job(
    backend: Any, kwargs: dict[str, Any], spec: HostSpec, spec_path: Path, files: ClusterFiles
) -> str:
    """Submit the host's batch job; its id. The submission runs with this server's
    environment less its secrets (``child_env``): SLURM and ``-V`` hand it to the job."""
    from ..child_env import child_environment
    from .processes import _package_path

    package_path = None
    if spec.python and spec.python != sys.executable:
        package_path = await asyncio.to_thread(_package_path, Path(spec.private_root))
    command = host_command(spec, spec_path, package_path)
    job = await asyncio.to_thread(scheduler_job, backend, kwargs, spec, command, files)
    with job.job_file() as script:
        # the system's own submission (LSF: the script on stdin)
        out = await job._submit_job(script, env=child_environment())
    return str(job._job_id_from_submit_output(out))


async def wait_for_host(
    backend: Any, spec: HostSpec, job_id: str, files: ClusterFiles, say: Callable[[str], None]
) -> HostProcess:
    """The host once its record names job ``job_id`` (``HostGone`` when the job ends first);
    ``say`` is told why it waits (the queue's reason) as that changes."""
    records_dir, name = Path(spec.records_dir), spec.kwargs["job_name"]
    loop = asyncio.get_running_loop()
    asked, seen = loop.time(), False
    while True:
        records = await asyncio.to_thread(read_records, records_dir, [spec.cluster_id])
        for record in records:
            if record.batch_job_id == job_id:
                return HostProcess.attach(record, files)
        if loop.time() - asked >= JOB_POLL_SECONDS:
            asked = loop.time()
            jobs = [
                j for j in (await backend.job_states([name])).get(name, []) if j["job_id"] == job_id
            ]
            # Grid Engine forgets an ended job at once: one seen before and gone has ended
            if (seen and not jobs) or (jobs and backend.job_has_ended(jobs[0]["state"])):
                state = jobs[0]["state"] if jobs else "no longer listed"
                raise HostGone(f"the scheduler's batch job {job_id} ended ({state})")
            seen = seen or bool(jobs)
            waiting = _WAITING.get(jobs[0]["state"]) if jobs else None
            if waiting:  # a held job waits for someone (HTCondor holds a job that failed)
                reason = jobs[0].get("reason")
                say(f"scheduler job {job_id} {waiting}" + (f" ({reason})" if reason else ""))
        await asyncio.sleep(RECORD_POLL_SECONDS)


async def spawn_in_job(
    backend: Any, spec: HostSpec, files: ClusterFiles, log_path: Path, timeout: float
) -> HostProcess:
    """For the Python API (``make_cluster``, ``quick_connect``): the host in its own job, as
    the sidebar starts it; on failure or after ``timeout`` its job is cancelled and its files
    removed."""
    spec_path = await HostProcess.prepare(spec, files, log_path)
    try:
        job_id = await submit_host_job(backend, spec.kwargs, spec, spec_path, files)
        return await asyncio.wait_for(
            wait_for_host(backend, spec, job_id, files, lambda _: None), timeout
        )
    except BaseException:
        await backend.reap_leftovers(spec.cluster_id)
        await asyncio.to_thread(files.remove)
        raise


def _node_address() -> str:
    """The node's routable address (its default interface's)."""
    from ..backends import network

    interfaces = network.ipv4_interfaces()
    return interfaces[network.default_interface(interfaces)]


def control_listen_address(spec: HostSpec) -> str:
    """Where the host's control server listens: loopback beside Jupyter, the node's routable
    address inside a batch job (the supervisor is on another machine in general)."""
    if not in_own_job(spec.options):
        return "tls://127.0.0.1:0"
    return f"tls://{_node_address()}:0"


async def open_dashboard_listener(
    spec: HostSpec, dashboard_socket: str | None, files: ClusterFiles
) -> NodeDashboardListener | None:
    """Inside its own job, the dashboard's TLS listener on the node's address, for the Jupyter
    server's relay (see ``dashboard_tunnel``); None beside Jupyter (its socket is relayed as it
    is) or without a dashboard socket."""
    if not in_own_job(spec.options) or dashboard_socket is None:
        return None
    listener = NodeDashboardListener(dashboard_socket, files)
    await listener.start(_node_address())
    return listener


def placed_on_node(spec: HostSpec) -> HostSpec:
    """The spec as the host inside a job uses it: the scheduler listens on this node's
    interface when the form's (the Jupyter server's) is not one of the node's."""
    if not in_own_job(spec.options):
        return spec
    from ..backends import network

    scheduler = dict(spec.kwargs.get("scheduler_options") or {})
    interfaces = network.ipv4_interfaces()
    if scheduler.get("interface") not in interfaces and "host" not in scheduler:
        scheduler["interface"] = network.default_interface(interfaces)
    spec.kwargs = {**spec.kwargs, "scheduler_options": scheduler}
    return spec


def keep_own_job(spec: HostSpec, backend: Any) -> None:
    """Inside its own job, the host's cleanup by job name (``reap``, after closing the
    cluster) cancels the workers' jobs but not the host's own: cancelled, Grid Engine kills
    it at once, before it has removed its record and files. Its job ends when it exits."""
    own = record_job_id(spec, backend) if hasattr(backend, "reap") else None
    if own is None:
        return

    async def reap_others(name: str) -> None:
        from ..backends.batch.submission import cancel

        jobs = (await backend.job_states([name])).get(name, [])
        job_cls = backend.cluster_class().job_cls
        prefix = getattr(job_cls, "command_prefix", ())
        others = [job["job_id"] for job in jobs if job["job_id"] != own]
        # one cancel command for them all; a job gone already fails it (ignored, as in close)
        await asyncio.gather(
            *(cancel(job_cls.cancel_command, job_id, prefix) for job_id in others),
            return_exceptions=True,
        )

    backend.reap = reap_others


def stop_reason(spec: HostSpec, signum: int, backend: Any) -> str:
    """What the card says when the host is signalled: inside a job, a signal is the batch
    system ending the scheduler's job (its walltime ran out, or it was cancelled)."""
    name = signal.Signals(signum).name
    job_id = record_job_id(spec, backend)
    if job_id:
        return (
            f"the scheduler's batch job {job_id} was ended ({name}: its walltime ran out, "
            "or it was cancelled)"
        )
    return f"the cluster's host was stopped ({name})"
