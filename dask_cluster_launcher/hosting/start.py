"""Starting a cluster host process: ``python -m dask_cluster_launcher.run_host SPEC.json`` (or
``--forker``) comes here. The forker imports ahead what any cluster needs, then forks a host for
each spec it is given (``fork_hosts``); every host names itself, loads its backend as the
supervisor chose it and runs its :class:`~.host.ClusterHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from ..backends import default_backends
from ..backends.registry import load_class
from ..private import PrivateDir
from .fork_hosts import Announce, serve_forks
from .host import ClusterHost
from .records import HostSpec
from .worker_forkserver import fork_resource_tracker, fork_worker_server, stop_resource_tracker

#: Scheduler HTTP routes a host leaves out: ``distributed.http.proxy`` relays ``/proxy/PORT/HOST``
#: to a worker's HTTP server, and a launcher's workers serve HTTP nowhere (``private_http``); it
#: imports jupyter-server-proxy, jupyter_server and aiohttp (10 MB PSS, 0.25-0.4 s).
UNREACHABLE_ROUTES = ("distributed.http.proxy",)


def trim_scheduler() -> None:
    """What a host's scheduler does without: unreachable routes, and the dashboard until it is
    first asked for (see ``lazy_dashboard``)."""
    import dask

    from .lazy_dashboard import defer_dashboard

    routes = dask.config.get("distributed.scheduler.http.routes", [])
    kept = [module for module in routes if module not in UNREACHABLE_ROUTES]
    dask.config.set({"distributed.scheduler.http.routes": kept})
    defer_dashboard()


def warm_up() -> None:
    """Import what starting any cluster imports (the cluster classes, the scheduler's routes),
    so that a forked host starts its cluster as fast as a notebook that already made one. Not the
    dashboard: it is imported when first opened (17 MB of every idle host otherwise)."""
    import importlib

    import dask
    import distributed.scheduler  # noqa: F401

    for module in dask.config.get("distributed.scheduler.http.routes", []):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    # the first TLS stream of a process makes tornado's default client context, which loads
    # the system's CA bundle (40-140 ms here) though distributed passes its own context
    with contextlib.suppress(Exception):
        import tornado.netutil

        tornado.netutil._client_ssl_defaults()

    for backend in default_backends().values():
        if backend.private_cluster:
            with contextlib.suppress(ImportError):
                backend.cluster_class()


def name_process(cluster_id: str) -> None:
    """``ps -e`` shows this host as ``dcl<cluster id>`` (15 characters, the kernel's limit)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(f"dcl{cluster_id}"[:15], encoding="ascii")


def redirect_stderr(spec: HostSpec) -> None:
    """Standard error to the cluster's host log (a forked host's was the forker's)."""
    directory = Path(PrivateDir.at(spec.private_root).log_directory(spec.cluster_id))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / "host.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 2)
    os.close(fd)


def main(argv: list[str] | None = None) -> None:
    """``run_host SPEC.json``: run that host. ``run_host --forker``: warm up, then fork a host
    for each spec path read from stdin until it ends (see ``fork_hosts``)."""
    argv = sys.argv[1:] if argv is None else argv
    trim_scheduler()
    if argv == ["--forker"]:
        warm_up()
        # once, before any host: every host forked from here holds its pipe (a local cluster's
        # workers do not wait for one to start; a host that starts no worker process lets go)
        fork_resource_tracker("dcl-tracker")
        serve_forks(run_forked_host)
        return
    run_host(HostSpec(**json.loads(Path(argv[0]).read_text(encoding="utf-8"))))


def run_forked_host(spec_path: str, announce: Announce) -> None:
    """A host forked from the forker: it logs where a host started for this cluster would."""
    spec = HostSpec(**json.loads(Path(spec_path).read_text(encoding="utf-8")))
    redirect_stderr(spec)
    run_host(spec, announce)


def run_host(spec: HostSpec, announce: Announce | None = None) -> None:
    """Run the cluster host of ``spec`` until it stops."""
    name_process(spec.cluster_id)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # the class the supervisor chose (made with no arguments, as the registry makes it)
    cls = load_class(spec.backend_class) if spec.backend_class else None
    backend = cls() if cls is not None else default_backends()[spec.backend]
    if spec.command_prefix and hasattr(backend, "command_prefix"):
        backend.command_prefix = tuple(spec.command_prefix)
    # dask_jobqueue.runner sets SIGINT to sys.exit when first imported: import it before the
    # host installs its own handlers (SIGTERM/SIGINT stop the cluster and cancel its jobs)
    with contextlib.suppress(ImportError):
        import dask_jobqueue.runner  # noqa: F401
    if spec.kwargs.get("processes") is True:  # a LocalCluster's worker processes
        files = PrivateDir.at(spec.private_root).cluster(spec.cluster_id)
        fork_worker_server(files.directory, spec.cluster_id)  # removed with the cluster's files
    else:
        stop_resource_tracker()
    run_until_stopped(ClusterHost(spec, backend, announce))


#: Seconds the tasks still running when the host has stopped get to end once cancelled.
LEFTOVER_TASKS_GRACE = 5.0


def run_until_stopped(host: ClusterHost) -> None:
    """``asyncio.run(host.run())``, except that the tasks left when the host has stopped (its
    files and record removed, its cluster closed) get ``LEFTOVER_TASKS_GRACE`` seconds once
    cancelled, not forever: a worker start cut short by a stop right after the launch can leave
    one that never ends, and the host would stay behind."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(host.run())
    finally:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        stuck: set[asyncio.Task[Any]] = set()
        if tasks:
            _, stuck = loop.run_until_complete(asyncio.wait(tasks, timeout=LEFTOVER_TASKS_GRACE))
        if stuck:
            logging.getLogger(__name__).warning("%d tasks did not end; exiting", len(stuck))
            logging.shutdown()
            sys.stdout.flush()
            os._exit(0)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
