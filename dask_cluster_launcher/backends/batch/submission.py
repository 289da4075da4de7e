"""Submitting and cancelling hundreds of dask-jobqueue jobs without stalling the host.

dask-jobqueue 0.9 starts every job of a ``scale(n)`` at once: ``SpecCluster`` creates the n
``Job`` objects and awaits them together; each ``Job.start`` writes its job file and runs
``sbatch``/``qsub`` with ``asyncio.create_subprocess_exec``. Waiting for a command does not block
the event loop, but the rest does: the n job files are written and the n processes started
(``Popen`` returns once the child has called ``exec``) in one turn of the loop, and n batch
clients then compete with it for the CPUs. With 100 jobs on a 2-core node the cluster host's
loop stood still for 0.25-1.2 s on SLURM and 2.5-9 s on SGE (``qsub`` costs ~40 ms of CPU), so
it answered neither its supervisor's ``watch`` nor its workers meanwhile; cancelling the 100
jobs (a ``scancel``/``qdel`` each) stalled it as long (``benchmarks/submission.py``).

The launcher's job classes keep dask-jobqueue's commands, job id parsing and errors, but:

- a job's start waits for one of :data:`CONCURRENCY` slots of its event loop before it writes
  its job file, and holds it until it has its job id;
- jobs cancelled together (a close, a scale-down) are cancelled by one ``scancel``/``qdel``
  with all their ids, in a slot too;
- processes are started one at a time, so a turn of the loop starts at most one;
- stdin is ``/dev/null`` (a prefix such as ``ssh login01`` must not read the host's), and the
  words after a remote shell prefix are quoted for it (``commands.prefixed``);
- the job script is written by the launcher in the cluster's private folder, never in the
  shared temporary directory (see ``job_scripts.py``), and removed once submitted;
- a job reads no dask config key that would change its directives behind the form (see
  :func:`form_owned_config`).

Why eight: the controllers serialise submissions themselves (``slurmctld`` under its job write
lock, ``sge_qmaster`` in its two worker threads), so beyond a few clients more only queue there
while they load the login node. 100 SGE submissions took ~10 s one at a time, ~9 s two, 6-7 s
four, 4-6.5 s eight, and no less with 16 or 32, while the loop's 99th-percentile lag grew from
20-40 ms (8) to 50-75 ms (16) and 120-190 ms (32). SLURM here takes 0.3-0.9 s at any of them.
No job arrays: one worker per job id stays what ``squeue``/``qstat`` show (see
``benchmarks/README.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import shlex
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import dask.config

from . import commands, job_scripts

log = logging.getLogger(__name__)

#: Batch commands (submissions and cancellations) one event loop runs at the same time.
CONCURRENCY = 8
#: Job ids one ``scancel``/``qdel`` takes at most.
CANCEL_IDS = 100


class _Limits:
    """One event loop's limits (asyncio primitives belong to one loop; a cluster created with
    ``asynchronous=False`` runs its jobs on a loop of its own)."""

    def __init__(self) -> None:
        self.running = asyncio.Semaphore(CONCURRENCY)
        #: one process start at a time: ``Popen`` blocks the loop until the child has called
        #: ``exec`` (milliseconds, more on a loaded node), so starts are spread over turns
        self.starting = asyncio.Lock()
        #: cancel command -> the ids its next run takes
        self.cancels: dict[str, _Cancels] = {}


class _Cancels:
    """Job ids that one run of a cancel command takes, and the task that runs it."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.started = False
        self.task: asyncio.Future[None] | None = None


_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Limits] = weakref.WeakKeyDictionary()


#: the task that holds a slot in this context (tasks it creates copy the context, not the slot)
_holder: contextvars.ContextVar[asyncio.Task[Any] | None] = contextvars.ContextVar(
    "batch_slot_holder", default=None
)


def _loop_limits() -> _Limits:
    loop = asyncio.get_running_loop()
    limits = _limits.get(loop)
    if limits is None:
        limits = _limits[loop] = _Limits()
    return limits


@contextlib.asynccontextmanager
async def batch_slot() -> AsyncIterator[None]:
    """One of this event loop's :data:`CONCURRENCY` slots, held by the current task (which may
    ask again: a job's start holds its slot from the job file to the job id)."""
    task = asyncio.current_task()
    if task is not None and _holder.get() is task:
        yield
        return
    async with _loop_limits().running:
        token = _holder.set(task)
        try:
            yield
        finally:
            _holder.reset(token)


async def call(cmd: list[str], *, shell: bool = False, **kwargs: Any) -> str:
    """dask-jobqueue's ``Job._call``, in a :func:`batch_slot`: the command's stdout, or
    ``RuntimeError`` with its exit code, stdout and stderr worded as dask-jobqueue words it.
    stdin is ``/dev/null``: a prefix such as ``ssh login01`` must not read the host's stdin."""
    cmd_str = " ".join(cmd)
    log.debug("Executing the following command to command line\n%s", cmd_str)
    create: Any = asyncio.create_subprocess_shell if shell else asyncio.create_subprocess_exec
    kwargs.setdefault("stdin", asyncio.subprocess.DEVNULL)
    async with batch_slot():
        async with _loop_limits().starting:
            process = await create(
                *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, **kwargs
            )
        out_bytes, err_bytes = await process.communicate()
    out, err = out_bytes.decode(), err_bytes.decode()
    if process.returncode != 0:
        raise RuntimeError(
            "Command exited with non-zero exit code.\n"
            f"Exit code: {process.returncode}\n"
            f"Command:\n{cmd_str}\n"
            f"stdout:\n{out}\n"
            f"stderr:\n{err}\n"
        )
    return out


async def cancel(cancel_command: str, job_id: str, prefix: Sequence[str] = ()) -> None:
    """``cancel_command job_id``, together with the ids other jobs ask to cancel until the
    command runs (at most :data:`CANCEL_IDS`): closing or scaling down n jobs takes a few
    ``scancel``/``qdel``, not n. Both cancel every id they can; one already gone makes the
    command fail (``RuntimeError`` for every id of that run, which callers ignore, as
    dask-jobqueue does for its single id). ``prefix``: the batch command prefix that
    ``cancel_command`` starts with."""
    cancels = _loop_limits().cancels
    batch = cancels.get(cancel_command)
    if batch is None or batch.started or len(batch.ids) >= CANCEL_IDS:
        batch = cancels[cancel_command] = _Cancels()
        batch.task = asyncio.ensure_future(_run_cancels(cancel_command, tuple(prefix), batch))
    batch.ids.append(job_id)
    assert batch.task is not None
    await asyncio.shield(batch.task)  # a caller given up on does not stop the others' cancel


async def _run_cancels(cancel_command: str, prefix: tuple[str, ...], batch: _Cancels) -> None:
    async with batch_slot():  # ids join while it waits for its turn
        batch.started = True
        await call(prefixed_command(cancel_command, prefix, batch.ids))


def prefixed_command(
    command_line: str, prefix: Sequence[str], arguments: Sequence[str]
) -> list[str]:
    """``command_line`` (dask-jobqueue's ``submit_command``/``cancel_command``, which starts with
    ``prefix``) and ``arguments`` as an argument list, quoted after a remote shell."""
    words = shlex.split(command_line)
    return commands.prefixed(prefix, [*words[len(prefix) :], *arguments])


def launcher_cluster_class(cluster_class: Any, prefix: Sequence[str] = ()) -> Any:
    """``cluster_class`` (``SLURMCluster``, ``SGECluster``) whose jobs are submitted and
    cancelled through ``prefix`` (the site's batch command prefix) and :func:`call`."""
    return _bounded(commands.prefixed_cluster_class(cluster_class, tuple(prefix)))


#: dask config keys (``jobqueue.<section>.<key>``) a dask-jobqueue job reads when the argument
#: is left out, and what stands for "none" there. The launcher leaves an argument out when the
#: form says none (no queue, no account), and never passes the old names or SLURM's ``job-mem``/
#: ``job-cpu``: read from the user's config, they would add directives past the form's checks,
#: the site's limits and a profile's locks (the form's defaults already come from that config).
FORM_OWNED_CONFIG: dict[str, Any] = {
    "queue": None,
    "account": None,
    "project": None,
    "job-mem": None,
    "job-cpu": None,
    "job-extra": None,
    "env-extra": None,
    "header-skip": None,
    "extra": None,
    "job-extra-directives": [],
    "job-script-prologue": [],
    "job-directives-skip": [],
}


def form_owned_config(section: str) -> dict[str, Any]:
    """The config a launcher's job is made under: :data:`FORM_OWNED_CONFIG` cleared, and the
    shebang kept to its first line (more lines would be directives too)."""
    values = {f"jobqueue.{section}.{key}": value for key, value in FORM_OWNED_CONFIG.items()}
    shebang = dask.config.get(f"jobqueue.{section}.shebang", None)
    if isinstance(shebang, str) and "\n" in shebang.strip():
        values[f"jobqueue.{section}.shebang"] = shebang.strip().splitlines()[0]
    return values


class _BoundedJob:
    """The launcher's part of a dask-jobqueue ``Job``: ``start`` waits for a slot before it
    writes the job file (about a millisecond each here; dask-jobqueue writes all n in the same
    turn of the event loop) and submits through :func:`call`; ``close`` cancels through
    :func:`cancel`. ``job_script_directory``: the private folder its job scripts are written
    in (``job_scripts.default_directory()`` when left out)."""

    _call = staticmethod(call)
    # set on the dask-jobqueue classes this is mixed into
    config_name: str
    job_name: str | None
    submit_command: str

    def __init__(self, *args: Any, job_script_directory: str | None = None, **kwargs: Any):
        self.job_script_directory = job_script_directory
        section = kwargs.get("config_name") or self.config_name
        with dask.config.set(form_owned_config(section)):
            super().__init__(*args, **kwargs)

    @contextlib.contextmanager
    def job_file(self) -> Iterator[str]:
        """The job script, written by the launcher in a private folder (dask-jobqueue's own
        goes through the shared temporary directory), removed after the submission."""
        directory = self.job_script_directory
        folder = Path(directory) if directory else job_scripts.default_directory()
        script: str = self.job_script()  # type: ignore[attr-defined]
        with job_scripts.job_script_file(folder, script, self.job_name or "job") as path:
            yield str(path)

    async def _submit_job(self, script_filename: str, **call_kwargs: Any) -> str:
        """``call_kwargs``: for :func:`call` (the scheduler's job: its environment)."""
        prefix = getattr(self, "command_prefix", ())
        command = prefixed_command(self.submit_command, prefix, [script_filename])
        return await call(command, **call_kwargs)

    @classmethod
    async def _close_job(cls, job_id: str | None, cancel_command: str) -> None:
        if job_id:
            with contextlib.suppress(RuntimeError):  # the job is gone already
                await cancel(cancel_command, job_id, getattr(cls, "command_prefix", ()))
            log.debug("Closed job %s", job_id)

    async def start(self) -> None:
        async with batch_slot():
            await super().start()  # type: ignore[misc]


@functools.cache
def _bounded(cluster_class: Any) -> Any:
    job_cls = cluster_class.job_cls
    job = type(job_cls.__name__, (_BoundedJob, job_cls), {"__module__": __name__})
    attributes = {"job_cls": job, "__module__": __name__}
    return type(cluster_class.__name__, (cluster_class,), attributes)
