"""The Python environment of a Jupyter kernel, so a cluster can run the notebook's environment.

A cluster launched "with kernel K" runs its host process (scheduler, local workers) with K's
Python, and batch jobs start their workers with it, so the notebook's client, the scheduler and
the workers agree on versions. ``versions`` reads them from any Python, for the checks.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest

#: What the cluster's and the notebook's sides must agree on (distributed's own check compares
#: these too, and refuses to work across some of their differences).
VERSIONS_CODE = (
    "import json, platform, dask, distributed, msgpack, cloudpickle;"
    "print(json.dumps({'python': platform.python_version(), 'dask': dask.__version__,"
    " 'distributed': distributed.__version__, 'msgpack': '.'.join(map(str, msgpack.version)),"
    " 'cloudpickle': cloudpickle.__version__}))"
)


@dataclass(frozen=True)
class KernelPython:
    kernel: str
    python: str
    versions: dict[str, str]


def this_python_versions() -> dict[str, str]:
    """The versions of the running Python, as ``VERSIONS_CODE`` prints them for another one."""
    import platform

    import cloudpickle
    import dask
    import distributed
    import msgpack

    return {
        "python": platform.python_version(),
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "msgpack": ".".join(map(str, msgpack.version)),
        "cloudpickle": cloudpickle.__version__,
    }


async def versions(
    python: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> dict[str, str] | None:
    """The versions a Python has (in environment ``env``), or None when it cannot import
    dask.distributed."""
    process = await asyncio.create_subprocess_exec(
        python,
        "-c",
        VERSIONS_CODE,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return None
    if process.returncode != 0:
        return None
    return dict(json.loads(out))


async def kernel_python(kernel_spec_manager: Any, name: str) -> KernelPython:
    """Resolve a kernelspec to its Python and that Python's versions; 400 naming ``kernel``."""
    try:
        spec = await asyncio.to_thread(kernel_spec_manager.get_kernel_spec, name)
    except Exception:
        raise InvalidRequest(f"kernel: there is no kernel named {name!r}", "kernel") from None
    command = spec.argv[0] if spec.argv else ""
    python = command if os.path.isabs(command) else shutil.which(command) or ""
    if command in ("python", "python3") and not os.path.isabs(command):
        python = sys.executable  # what jupyter_client runs for the native kernel
    if not python or not os.access(python, os.X_OK):
        raise InvalidRequest(f"kernel: {name!r} does not run a Python found here", "kernel")
    # what a kernel started from this server sees: the server's environment and the spec's
    found = await versions(python, {**os.environ, **(spec.env or {})})
    if found is None:
        raise InvalidRequest(
            f"kernel: the Python of {name!r} ({python}) cannot import dask.distributed", "kernel"
        )
    return KernelPython(name, python, found)


def mismatches(cluster: dict[str, str], client: dict[str, str]) -> list[str]:
    """``['distributed 2026.8.0 (cluster) vs 2025.1.0 (notebook)', ...]``."""
    return [
        f"{package} {cluster[package]} (cluster) vs {client[package]} (notebook)"
        for package in sorted(set(cluster) & set(client))
        if cluster[package] != client[package]
    ]
