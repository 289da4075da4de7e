"""Running batch-system commands without blocking the Jupyter server's event loop.

Every batch command goes through :func:`run` with the site's command prefix (the server setting
``batch_command_prefix``, e.g. ``["ssh", "login01"]`` or a wrapper script that loads a module or
adds ``-M cluster``): the launcher's own queries here, and dask-jobqueue's submissions and
cancellations through :func:`prefixed_cluster_class` (which ``submission.py`` builds on to run
them a few at a time).
"""

from __future__ import annotations

import asyncio
import functools
import shlex
import shutil
from collections.abc import Sequence
from typing import Any


class BatchCommandError(RuntimeError):
    """A batch command failed or did not answer in time; the message says which and why."""


def missing_commands(*names: str, prefix: Sequence[str] = ()) -> list[str]:
    """The commands not found on this server's PATH; with a prefix only the prefix's own
    program runs here (the batch commands may live on another host, behind ``ssh``)."""
    wanted = [prefix[0]] if prefix else list(names)
    return [name for name in wanted if shutil.which(name) is None]


async def run(
    *command: str, timeout: float = 15.0, check: bool = True, prefix: Sequence[str] = ()
) -> str:
    """stdout of ``command`` (an argument list, never a shell string), run after ``prefix``."""
    argv = [*prefix, *command]
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise BatchCommandError(f"{argv[0]}: {exc.strerror}") from exc
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise BatchCommandError(f"{command[0]} did not answer within {timeout:g} s") from None
    if check and process.returncode != 0:
        message = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise BatchCommandError(f"{command[0]} failed: {message}")
    return out.decode(errors="replace")


def prefixed_cluster_class(cluster_class: Any, prefix: Sequence[str]) -> Any:
    """``cluster_class`` (a dask-jobqueue cluster) whose jobs are submitted and cancelled
    through ``prefix``; the class itself when there is none.

    dask-jobqueue runs exactly two commands, its Job class's ``submit_command`` and
    ``cancel_command`` (split with ``shlex``): the subclasses put the prefix in front of both.
    """
    return _prefixed(cluster_class, tuple(prefix)) if prefix else cluster_class


@functools.cache
def _prefixed(cluster_class: Any, prefix: tuple[str, ...]) -> Any:
    job_class = cluster_class.job_cls
    commands = {
        attribute: shlex.join([*prefix, *shlex.split(getattr(job_class, attribute))])
        for attribute in ("submit_command", "cancel_command")
    }
    job = type(job_class.__name__, (job_class,), {**commands, "__module__": __name__})
    attributes = {"job_cls": job, "__module__": __name__}
    return type(cluster_class.__name__, (cluster_class,), attributes)
