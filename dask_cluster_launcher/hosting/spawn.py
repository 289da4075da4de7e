"""Starting a host process as a new Python: ``python -m dask_cluster_launcher.run_host ARGS``
(a host for one spec, or the host forker every other host is forked from)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..child_env import child_environment

#: What a host process runs: ``python -m HOST_MODULE SPEC.json`` (see ``run_host``).
HOST_MODULE = "dask_cluster_launcher.run_host"
#: What the host forker runs: ``python -m HOST_MODULE --forker`` (see ``fork_hosts``).
FORKER_ARGS = ["--forker"]


async def start_host_process(
    python: str, args: list[str], log_path: Path, env: dict[str, str] | None, cwd: Path
) -> asyncio.subprocess.Process:
    """``python -m HOST_MODULE ARGS`` in ``cwd`` (the private directory: ``-m`` puts the working
    directory first on ``sys.path``, and a module planted in a notebook folder must not be
    imported), with ``env`` (default: this process's) less the secrets (see ``child_env``)."""
    with open(log_path, "ab") as log_file:
        return await asyncio.create_subprocess_exec(
            python,
            "-m",
            HOST_MODULE,
            *args,
            stdin=asyncio.subprocess.PIPE if args == FORKER_ARGS else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            env=child_environment(env),
            cwd=cwd,
            # its own session: a Ctrl-C meant for the Jupyter server does not reach it, and it
            # can outlive the server when the operator wants clusters to survive restarts
            start_new_session=True,
        )
