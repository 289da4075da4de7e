"""The launcher from Python: the same backends, profiles and validation the server uses.

``quick_connect`` and ``make_cluster`` start their cluster as the sidebar does, in a host
process of its own (see ``host``) that writes a record: a Jupyter server of the same user shows
it in the sidebar, where it can be scaled and stopped. ``quick_connect`` returns a connected
``Client``; ``make_cluster`` a cluster object (``hosted_cluster.HostedCluster``) to scale,
connect to and close, that follows what the sidebar does to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import snippets
from .backends import Backend
from .config import launcher_requests, launcher_settings
from .connecting import connect  # noqa: F401  (the inserted code's call, kept here too)
from .errors import InvalidRequest, NotFound
from .hosting import job_host
from .hosting.hosted_cluster import HostedCluster, on_launcher_loop
from .hosting.processes import HostProcess
from .hosting.records import HostSpec, default_records_dir, read_records
from .private import ClusterFiles, PrivateDir
from .requests import LaunchPlan

if TYPE_CHECKING:
    from .app import ClusterLauncherApp


def _resolve(
    profile: str,
    overrides: dict[str, Any],
    scaling: dict[str, Any] | None,
    settings: ClusterLauncherApp | None = None,
) -> LaunchPlan:
    """The plan of a launch from ``profile`` (or a bare backend name), with the server's
    settings from the Jupyter config (see ``config``): the same profiles, limits and locks,
    whatever starts the cluster."""
    requests = launcher_requests(settings)
    request = requests.request_for(profile, overrides, scaling)
    plan: LaunchPlan = run_sync(requests.resolve(request))
    return plan


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


def make_cluster(
    profile: str = "local",
    *,
    timeout: float = 120.0,
    grace_period: float | None = None,
    private_dir: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Any:
    """A new cluster from ``profile`` (or a bare backend name), with no worker yet.

    Local, SLURM and SGE clusters run in a host process of their own, as the sidebar's do:
    the result is a ``HostedCluster`` (a ``distributed.deploy.Cluster``) whose ``scale(n)``,
    ``adapt(minimum=, maximum=)`` and ``close()`` act on that host, and ``Client(cluster)``
    connects over the cluster's TLS (``cluster.security``). Your running Jupyter server shows
    it in the sidebar within seconds; scaling or stopping it there shows on the object. It
    stops when you close it or when this Python process ends (or, should this process be
    killed, once no server or client has been connected for ``grace_period`` seconds). Waits
    ``timeout`` seconds for the scheduler to start. ``private_dir``, ``grace_period`` and the
    server's settings: as for ``quick_connect``.

    Saturn clusters (their scheduler runs at Saturn Cloud) are plain ``SaturnCluster``
    objects of this process, not shown in the sidebar.
    """
    settings = launcher_settings()
    plan = _resolve(profile, overrides, {"workers": 0}, settings)
    backend = plan.backend
    if not plan.hosted:
        kwargs = plan.cluster_kwargs(_new_id(), profile)
        return backend.cluster_class()(**kwargs)
    _check_cluster_limit(plan)
    spec, files = _host_spec(plan, settings, profile, grace_period, private_dir)
    host = on_launcher_loop(_start_host(backend, spec, files, timeout))
    try:
        return HostedCluster(
            host,
            cluster_id=spec.cluster_id,
            name=profile,
            backend=backend,
            kwargs=spec.kwargs,
            limits=plan.limits,
        )
    except BaseException:
        on_launcher_loop(host.stop())
        raise


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
    settings = launcher_settings()
    plan = _resolve(profile, overrides, scaling, settings)
    scaling = plan.scaling
    if "adapt" in scaling:
        first = max(1, scaling["adapt"]["minimum"])
    else:
        first = min(1, scaling["workers"])
    if not plan.hosted:
        return _in_process_client(plan, profile, first, timeout)

    _check_cluster_limit(plan)
    deadline = time.monotonic() + timeout
    spec, files = _host_spec(plan, settings, profile, grace_period, private_dir)
    host = on_launcher_loop(_start_host(plan.backend, spec, files, timeout))
    address = host.mirror.fields["scheduler_address"]
    from distributed import Client
    from distributed.security import Security

    if plan.backend.private_cluster:
        security = files.security()
    else:  # a scheduler with its own security (an adopted one): what its host connected with
        given = host.mirror.fields.get("client_security")
        security = Security(**given) if given else None
    client = None
    try:
        client = Client(address, security=security)
        client.wait_for_workers(first, timeout=max(deadline - time.monotonic(), 1.0))
    except BaseException:
        if client is not None:
            client.close()
        on_launcher_loop(host.stop())
        raise
    return client


def start_cluster(
    profile: str = "local",
    scaling: dict[str, Any] | None = None,
    *,
    timeout: float = 120.0,
    **overrides: Any,
) -> dict[str, str]:
    """Start a cluster in a host process of its own and return once its scheduler runs (the
    command line's ``start``): ``{"id", "scheduler_address", "code"}``, ``code`` being the
    notebook code that connects to it. Like ``quick_connect``'s, the cluster shows in the
    user's Jupyter sidebar and runs while a server watches it or a client is connected; with
    neither, it stops after the grace period. Saturn clusters cannot outlive this process:
    refused."""
    settings = launcher_settings()
    plan = _resolve(profile, overrides, scaling, settings)
    backend = plan.backend
    if not plan.hosted:
        raise InvalidRequest(
            f"backend: {backend.title} clusters live in the Python process that makes them; "
            "use quick_connect or make_cluster from Python",
            "backend",
        )
    _check_cluster_limit(plan)
    spec, files = _host_spec(plan, settings, profile, None, None)
    host = on_launcher_loop(_start_host(backend, spec, files, timeout))
    address = host.mirror.fields["scheduler_address"]
    code = snippets.client_code(address, profile, security=files.security_kwargs())
    return {"id": spec.cluster_id, "scheduler_address": address, "code": code}


def stop_cluster(cluster_id: str) -> None:
    """Stop a cluster that runs in a host process of this user's (the command line's
    ``stop``), cancelling its batch jobs; ``NotFound`` when no such cluster runs."""
    records = read_records(default_records_dir(), [cluster_id])
    if not records or not records[0].alive():
        raise NotFound(f"no running cluster {cluster_id!r}")
    record = records[0]
    files = PrivateDir.at(record.spec.private_root).cluster(cluster_id)
    on_launcher_loop(HostProcess.attach(record, files).stop())


def _check_cluster_limit(plan: LaunchPlan) -> None:
    """The site's ``max_clusters`` counts this user's running hosts of the backend."""
    backend = plan.backend
    records = read_records(default_records_dir())
    running = [r for r in records if r.spec.backend == backend.name and r.alive()]
    plan.limits.check_clusters(len(running), backend.title)


def _host_spec(
    plan: LaunchPlan,
    settings: ClusterLauncherApp,
    name: str,
    grace_period: float | None,
    private_dir: str | os.PathLike[str] | None,
) -> tuple[HostSpec, ClusterFiles]:
    """The spec of a new cluster's host, as the server would write it, and its files."""
    backend = plan.backend
    if private_dir is not None:
        backend.private_dir = PrivateDir.at(private_dir)
    cluster_id = _new_id()
    spec = plan.host_spec(
        cluster_id,
        name,
        records_dir=default_records_dir(),
        grace_period=settings.orphan_grace_period if grace_period is None else grace_period,
        idle_timeout=settings.idle_timeout,
    )
    return spec, backend.private_dir.cluster(cluster_id)


async def _start_host(
    backend: Backend, spec: HostSpec, files: ClusterFiles, timeout: float
) -> HostProcess:
    """Spawn the cluster's host and wait until its scheduler runs (its address is in the
    host's ``mirror`` then)."""
    await asyncio.to_thread(backend.private_dir.ensure)
    log_path = Path(backend.private_dir.log_directory(spec.cluster_id), "host.log")
    if job_host.in_own_job(spec.options):  # the scheduler in its own batch job
        host = await job_host.spawn_in_job(backend, spec, files, log_path, timeout)
    else:
        host = await HostProcess.spawn(spec, files, log_path)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"the cluster did not start within {timeout:g} s")
            await host.changes(timeout=min(left, 30.0))
            state = host.mirror.fields.get("state", "starting")
            if state == "running":
                return host
            if state != "starting":
                reason = host.mirror.fields.get("error") or f"the cluster is {state}"
                raise RuntimeError(f"{reason} (host log: {log_path})")
    except BaseException:
        await host.stop()
        raise
    finally:
        await host.disconnect()


def _in_process_client(plan: LaunchPlan, name: str, first: int, timeout: float) -> Any:
    """Saturn: the cluster object lives in this process (its scheduler runs at Saturn Cloud)."""
    from distributed import Client

    scaling = plan.scaling
    cluster = plan.backend.cluster_class()(**plan.cluster_kwargs(_new_id(), name))
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
