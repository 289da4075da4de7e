"""Running batch-system commands without blocking the Jupyter server's event loop.

Every batch command goes through :func:`run` with the site's command prefix (the server setting
``batch_command_prefix``, e.g. ``["ssh", "login01"]`` or a wrapper script that loads a module or
adds ``-M cluster``): the launcher's own queries here, and dask-jobqueue's submissions and
cancellations through :func:`prefixed_cluster_class` (which ``submission.py`` builds on to run
them a few at a time).

A prefix whose program is a remote shell (``ssh``, see :data:`REMOTE_SHELLS`) joins the words
after it with spaces and hands them to the login shell on the other host, which splits them
again: a path with a space would become two arguments and a ``;`` would end the command. Each
word after such a prefix is quoted for that shell (:func:`prefixed`).
"""

from __future__ import annotations

import asyncio
import functools
import os
import pwd
import shlex
import shutil
from collections.abc import Sequence
from typing import Any

#: Programs that run their arguments in a shell on another host.
REMOTE_SHELLS = frozenset({"ssh", "rsh", "autossh", "gsissh"})


class BatchCommandError(RuntimeError):
    """A batch command failed or did not answer in time; the message says which and why."""


@functools.cache
def login_name() -> str:
    """This process's user by its uid (``$USER`` and ``$LOGNAME`` may be inherited from
    whoever started the server): the owner whose jobs the batch queries list and cancel.
    Looked up once: the job polls call it on the event loop every second, and a user
    database behind LDAP or sssd may answer slowly."""
    return pwd.getpwuid(os.getuid()).pw_name


def is_remote_shell(prefix: Sequence[str]) -> bool:
    return bool(prefix) and os.path.basename(prefix[0]) in REMOTE_SHELLS


def prefixed(prefix: Sequence[str], command: Sequence[str]) -> list[str]:
    """The argument list that runs ``command`` through ``prefix``; after a remote shell each
    word of the command is quoted, so the remote shell gets back exactly these words."""
    if is_remote_shell(prefix):
        return [*prefix, *(shlex.quote(word) for word in command)]
    return [*prefix, *command]


def missing_commands(*names: str, prefix: Sequence[str] = ()) -> list[str]:
    """The commands not found on this server's PATH; with a prefix only the prefix's own
    program runs here (the batch commands may live on another host, behind ``ssh``)."""
    wanted = [prefix[0]] if prefix else list(names)
    return [name for name in wanted if shutil.which(name) is None]


async def run(
    *command: str, timeout: float = 15.0, check: bool = True, prefix: Sequence[str] = ()
) -> str:
    """stdout of ``command`` (an argument list, never a shell string), run after ``prefix``."""
    returncode, out, err = await completed(*command, timeout=timeout, prefix=prefix)
    if check and returncode != 0:
        raise BatchCommandError(f"{command[0]} failed: {err.strip() or out.strip()}")
    return out


async def completed(
    *command: str, timeout: float = 15.0, prefix: Sequence[str] = (), stdin: bytes | None = None
) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``command`` run after ``prefix``, with ``stdin`` as its
    input (``/dev/null`` without: a prefix such as ``ssh login01`` must not read the server's)."""
    argv = prefixed(prefix, command)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise BatchCommandError(f"{argv[0]}: {exc.strerror}") from exc
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise BatchCommandError(f"{command[0]} did not answer within {timeout:g} s") from None
    returncode = process.returncode if process.returncode is not None else -1
    return returncode, out.decode(errors="replace"), err.decode(errors="replace")


def prefixed_cluster_class(cluster_class: Any, prefix: Sequence[str]) -> Any:
    """``cluster_class`` (a dask-jobqueue cluster) whose jobs are submitted and cancelled
    through ``prefix``; the class itself when there is none.

    dask-jobqueue runs exactly two commands, its Job class's ``submit_command`` and
    ``cancel_command`` (split with ``shlex``): the subclasses put the prefix in front of both
    and keep it as ``command_prefix``, for the launcher's job class to quote the words after
    a remote shell (see ``submission.py``).
    """
    return _prefixed(cluster_class, tuple(prefix)) if prefix else cluster_class


@functools.cache
def _prefixed(cluster_class: Any, prefix: tuple[str, ...]) -> Any:
    job_class = cluster_class.job_cls
    commands = {
        attribute: shlex.join([*prefix, *shlex.split(getattr(job_class, attribute))])
        for attribute in ("submit_command", "cancel_command")
    }
    job_attributes = {**commands, "command_prefix": prefix, "__module__": __name__}
    job = type(job_class.__name__, (job_class,), job_attributes)
    return type(cluster_class.__name__, (cluster_class,), {"job_cls": job, "__module__": __name__})
