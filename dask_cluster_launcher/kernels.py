"""The Python environment of a Jupyter kernel, so a cluster can run the notebook's environment.

A cluster launched "with kernel K" runs its host process (scheduler, local workers) with K's
Python, and batch jobs start their workers with it, so the notebook's client, the scheduler and
the workers agree on versions. ``versions`` reads them from any Python, for the checks.

Reading them runs that Python (about a second), so ``kernel_python`` keeps what it read while
the environment stays the same: the first launch with a kernel may wait for it, later ones and
the version checks of inserted code answer at once, and installing or removing a package (or
editing the kernelspec) makes the next one read again.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

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
    dask.distributed; ``asyncio.TimeoutError`` when it does not answer in time."""
    process = await asyncio.create_subprocess_exec(
        python,
        "-c",
        VERSIONS_CODE,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
        # ``-c`` imports from the working directory first: never the notebook folder, where a
        # planted ``dask.py`` would run as the user
        cwd="/",
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        return None
    return dict(json.loads(out))


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FingerprintCache(Generic[K, V]):
    """Values of an async function, kept per key: a key that includes a fingerprint of what
    the value depends on (modification times) makes a changed input read again. Concurrent
    calls with the same key share one computation; a computation that raised is not kept."""

    def __init__(self, compute: Callable[[K], Awaitable[V]], size: int = 64) -> None:
        self._compute = compute
        self._size = size
        self._values: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K) -> V:
        future = self._values.get(key)
        if future is None or not _usable(future):
            future = asyncio.ensure_future(self._compute(key))
            self._values[key] = future
            while len(self._values) > self._size:  # the oldest first (dicts keep their order)
                del self._values[next(iter(self._values))]
        return await asyncio.shield(future)  # one caller cancelled does not cancel the others'

    def clear(self) -> None:
        self._values.clear()


def _usable(future: asyncio.Future[Any]) -> bool:
    """A value, or a computation this loop is running (not one of a loop that has gone)."""
    if not future.done():
        return future.get_loop() is asyncio.get_running_loop()
    return not future.cancelled() and future.exception() is None


def _mtimes(paths: list[str]) -> tuple[tuple[str, int], ...]:
    found = []
    for path in paths:
        try:
            found.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            continue
    return tuple(found)


def environment_fingerprint(python: str, spec_dir: str | None = None) -> tuple[Any, ...]:
    """What a Python's versions depend on, cheaply: the modification times of its
    executable, of its environment's package directories (an install or removal adds or
    removes entries in them) and the user's, and of the kernelspec."""
    prefix = Path(python).parent.parent  # <prefix>/bin/python (a venv's bin/python included)
    patterns = [
        f"{prefix}/lib/python3*/site-packages",
        f"{prefix}/lib/python3*/dist-packages",
        f"{prefix}/lib/python3/dist-packages",
        f"{prefix}/local/lib/python3*/dist-packages",
        os.path.expanduser("~/.local/lib/python3*/site-packages"),
    ]
    directories = sorted({d for pattern in patterns for d in glob.glob(pattern)})
    paths = [os.path.realpath(python), *directories]
    if spec_dir:
        paths.append(os.path.join(spec_dir, "kernel.json"))
    return _mtimes(paths)


_VersionsKey = tuple[str, tuple[tuple[str, str], ...], tuple[Any, ...]]


async def _versions_of(key: _VersionsKey) -> dict[str, str] | None:
    python, env, _ = key
    return await versions(python, dict(env))


#: Versions per (python, environment, fingerprint of its files): see ``kernel_python``.
_versions_cache: FingerprintCache[_VersionsKey, dict[str, str] | None] = FingerprintCache(
    _versions_of
)


async def kernel_python(kernel_spec_manager: Any, name: str) -> KernelPython:
    """Resolve a kernelspec to its Python and that Python's versions; 400 naming ``kernel``.

    The versions are read once per state of the environment (see ``environment_fingerprint``)."""
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
    env = {**os.environ, **(spec.env or {})}
    fingerprint = await asyncio.to_thread(
        environment_fingerprint, python, getattr(spec, "resource_dir", None)
    )
    try:
        found = await _versions_cache.get((python, tuple(sorted(env.items())), fingerprint))
    except asyncio.TimeoutError:  # a busy machine: not kept, the next launch asks again
        raise InvalidRequest(
            f"kernel: the Python of {name!r} ({python}) did not answer in time", "kernel"
        ) from None
    if found is None:
        raise InvalidRequest(
            f"kernel: the Python of {name!r} ({python}) cannot import dask.distributed", "kernel"
        )
    return KernelPython(name, python, dict(found))


def mismatches(cluster: dict[str, str], client: dict[str, str]) -> list[str]:
    """``['distributed 2026.8.0 (cluster) vs 2025.1.0 (notebook)', ...]``."""
    return [
        f"{package} {cluster[package]} (cluster) vs {client[package]} (notebook)"
        for package in sorted(set(cluster) & set(client))
        if cluster[package] != client[package]
    ]


def client_notice(cluster: dict[str, str], client: Any) -> str | None:
    """What the card says while a client with other versions is connected, or None.

    ``client``: the versions a ``distributed.Client`` sends the scheduler when it connects
    (``distributed.versions.get_versions()``: ``{"host": ..., "packages": {...}}``).
    """
    packages = client.get("packages") if isinstance(client, dict) else None
    if not isinstance(packages, dict):
        return None
    found = {name: str(packages[name]) for name in cluster if packages.get(name)}
    if "python" in found:  # "3.11.7.final.0" -> "3.11.7", as platform.python_version() says
        found["python"] = ".".join(found["python"].split(".")[:3])
    different = mismatches(cluster, found)
    if not different:
        return None
    return (
        f"A notebook connected with other versions: {'; '.join(different)}. "
        "Launch with its kernel (Kernel in the launch form) so they match."
    )
