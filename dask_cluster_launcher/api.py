"""The launcher from Python: the same backends, profiles and validation the server uses.

``quick_connect`` starts its cluster as the sidebar does, in a host process of its own (see
``host``) that writes a record: a Jupyter server of the same user shows it in the sidebar,
where it can be scaled and stopped. ``make_cluster`` returns a plain cluster object instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from .backends import Backend
from .config import launcher_manager
from .hosts import HostProcess
from .manager import ClusterManager, with_host_settings
from .private import ClusterFiles, PrivateDir
from .records import HostSpec, default_records_dir, pid_alive, read_records
from .supervision import host_spec


def _resolve(
    profile: str,
    overrides: dict[str, Any],
    scaling: dict[str, Any] | None,
    manager: ClusterManager | None = None,
) -> tuple[Backend, dict[str, Any], dict[str, Any], str | None]:
    """(backend, validated options, scaling, profile name or None for a bare backend), with
    the server's settings from the Jupyter config (see ``config``): the same profiles, limits
    and locks, whatever starts the cluster."""
    manager = launcher_manager() if manager is None else manager
    known_profiles = {p.name for p in manager.profiles.list()}
    request: dict[str, Any] = {"options": overrides}
    request["profile" if profile in known_profiles else "backend"] = profile
    if scaling is not None:
        request["scaling"] = scaling
    backend, options, scaling = run_sync(manager.resolve(request))
    return backend, options, scaling, request.get("profile")


def run_sync(coroutine: Any) -> Any:
    """Run a coroutine to completion, also from a notebook whose kernel runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def make_cluster(profile: str = "local", **overrides: Any) -> Any:
    """Create the cluster a profile (or bare backend name) describes, without scaling it.

    Unlike ``quick_connect``'s, this cluster is a plain object of this Python process (a
    ``LocalCluster``, ``SLURMCluster``, ...): yours to scale and close, it ends with the
    process, and the Jupyter sidebar does not show it.
    """
    backend, options, _, _ = _resolve(profile, overrides, None)
    kwargs = backend.cluster_kwargs(options, cluster_id=_new_id(), cluster_name=profile)
    return backend.cluster_class()(**kwargs)


def quick_connect(
    profile: str = "local",
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    timeout: float = 120.0,
    grace_period: float | None = None,
    private_dir: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Any:
    """A connected ``Client`` to a new cluster from ``profile`` (or a bare backend name).

    With ``minimum`` and ``maximum`` the cluster adapts between them; with one number it scales
    to that many workers. Waits ``timeout`` seconds for the cluster to start and its first
    worker(s) to connect, and stops the cluster if start-up fails.

    The cluster runs in a host process of its own, as the clusters launched from the JupyterLab
    sidebar do (SLURM, SGE and local clusters; Saturn clusters stay in this process): your
    running Jupyter server shows it in the sidebar within seconds, where you scale it and stop
    it. It does not need this Python session: while a server watches it, it runs until stopped
    there; with none, it stops itself (cancelling its jobs) once no client has been connected
    for ``grace_period`` seconds (default: the server's ``orphan_grace_period``). Its TLS
    credentials go to ``private_dir`` (default: the server's ``private_dir``); its record goes
    to Jupyter's runtime directory. The server's settings (profiles, limits, locks, idle
    timeout, batch command prefix) come from the Jupyter config, as the server reads them.
    """
    if minimum is not None and maximum is not None:
        scaling: dict[str, Any] | None = {"adapt": {"minimum": minimum, "maximum": maximum}}
    elif minimum is not None or maximum is not None:
        scaling = {"workers": minimum if minimum is not None else maximum}
    else:
        scaling = None
    manager = launcher_manager()
    backend, options, scaling, profile_name = _resolve(profile, overrides, scaling, manager)
    if backend.private_cluster:  # the site's max_clusters counts this user's running hosts
        records = read_records(default_records_dir())
        running = [r for r in records if r.spec.backend == backend.name and pid_alive(r.pid)]
        manager.limits_for(backend.name).check_clusters(len(running), backend.title)
    if "adapt" in scaling:
        first = max(1, scaling["adapt"]["minimum"])
    else:
        first = min(1, scaling["workers"])
    if not backend.private_cluster:
        return _in_process_client(backend, options, scaling, profile, first, timeout)

    deadline = time.monotonic() + timeout
    if private_dir is not None:
        backend.private_dir = PrivateDir.at(private_dir)
    cluster_id = _new_id()
    spec = host_spec(
        backend,
        cluster_id,
        profile,
        options,
        scaling,
        records_dir=default_records_dir(),
        grace_period=manager.grace_period if grace_period is None else grace_period,
        profile=profile_name,
    )
    spec = with_host_settings(spec, backend, manager.idle_timeout)
    files = backend.private_dir.cluster(cluster_id)
    host, address = _on_launcher_loop(_start_host(backend, spec, files, timeout))
    from distributed import Client

    client = None
    try:
        client = Client(address, security=files.security())
        client.wait_for_workers(first, timeout=max(deadline - time.monotonic(), 1.0))
    except BaseException:
        if client is not None:
            client.close()
        _on_launcher_loop(host.stop())
        raise
    return client


async def _start_host(
    backend: Backend, spec: HostSpec, files: ClusterFiles, timeout: float
) -> tuple[HostProcess, str]:
    """Spawn the cluster's host and wait until its scheduler runs: (host, scheduler address)."""
    await asyncio.to_thread(backend.private_dir.ensure)
    log_path = Path(backend.private_dir.log_directory(spec.cluster_id), "host.log")
    host = await HostProcess.spawn(spec, files, log_path)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    version = 0
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"the cluster did not start within {timeout:g} s")
            model = await host.watch(since=version, timeout=min(left, 30.0))
            version = model["version"]
            if model["state"] == "running":
                return host, model["scheduler_address"]
            if model["state"] != "starting":
                reason = model["error"] or f"the cluster is {model['state']}"
                raise RuntimeError(f"{reason} (host log: {log_path})")
    except BaseException:
        await host.stop()
        raise
    finally:
        await host.disconnect()


def _in_process_client(
    backend: Backend,
    options: dict[str, Any],
    scaling: dict[str, Any],
    name: str,
    first: int,
    timeout: float,
) -> Any:
    """Saturn: the cluster object lives in this process (its scheduler runs at Saturn Cloud)."""
    from distributed import Client

    kwargs = backend.cluster_kwargs(options, cluster_id=_new_id(), cluster_name=name)
    cluster = backend.cluster_class()(**kwargs)
    try:
        if "adapt" in scaling:
            cluster.adapt(minimum=scaling["adapt"]["minimum"], maximum=scaling["adapt"]["maximum"])
        else:
            cluster.scale(scaling["workers"])
        client = Client(cluster)
        client.wait_for_workers(first, timeout=timeout)
    except BaseException:
        cluster.close()
        raise
    return client


# --- the launcher's own event loop ------------------------------------------------------------
# Hosts are child processes of this one. They are spawned from one long-lived loop, not from a
# loop per call: asyncio reaps a child only through a running loop (an exited host would stay a
# zombie, alive to everyone polling its pid), and it kills a still-running child when the
# transport of a closed loop is collected (Python 3.12+ watches children through the loop).
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _launcher_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(
                target=_loop.run_forever, name="dask-cluster-launcher", daemon=True
            ).start()
        return _loop


def _on_launcher_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` on the launcher's loop and wait for it (from any thread or notebook);
    an interrupt cancels it, which stops what it started."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _launcher_loop())
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise
