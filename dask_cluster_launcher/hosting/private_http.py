"""Keep the HTTP servers of a cluster's scheduler and workers off the network, from the start,
and their Dask listeners on one address.

distributed starts an HTTP server (dashboard, /info, /metrics, /health, worker logs) in every
scheduler and worker, on a TCP port and without authentication: any user of the machine could
read it. Importing this module replaces ``ServerNode.start_http_server`` in the importing
process, so that no such TCP listener ever exists, not even for a moment at start-up:

- a scheduler serves its HTTP application on the Unix socket named by
  :func:`serve_scheduler_http_on` (0600, in a private 0700 folder: the Jupyter server relays it
  to its authenticated user), or on nothing at all when no socket was named;
- every other server (a worker) builds its HTTP application and listens nowhere.

It takes effect wherever it is imported before a server starts:

- the cluster's host process imports it before it creates the cluster (local, SLURM, SGE and
  CUDA schedulers, and workers running as threads of the host);
- workers import it as their ``--preload`` file (a copy in the cluster's private directory, so
  batch workers load it from the shared file system whatever Python they run): distributed
  imports preloads in ``Worker.__init__``, before ``Worker.start_unsafe`` starts the HTTP server;
- the MPI runner (``backends/mpi_runner.py``) imports the copy beside it before dask-mpi starts
  the job's scheduler and workers.

A worker given neither ``--host`` nor ``--interface`` (a batch job's, an MPI rank's) would
listen on every interface of its node (``0.0.0.0`` and ``[::]``): distributed's Nanny picks its
own host but hands the worker none, and dask-mpi's scheduler takes no host at all. Importing
this module also makes such a listener bind to the one address distributed advertises for it
anyway: a worker's route to its scheduler (``default_host``), else the node's outward address
(``distributed.utils.get_ip``). Nothing changes for whoever connects; the ports are just not
open on the node's other networks.

Standalone on purpose: it imports only distributed and tornado.
"""

from __future__ import annotations

from typing import Any

#: Marks the replacement, so that importing this module twice (the package's module and the
#: preload copy in one process) installs it once.
_MARK = "_dask_cluster_launcher_private"
#: Where the scheduler's socket path is kept: on the class, shared by every copy of this module.
_SOCKET_ATTRIBUTE = "_dask_cluster_launcher_scheduler_socket"
#: Where distributed's own ``Server.listen`` is kept: on the class, not in this module, whose
#: globals distributed's preloading may execute again (it imports a preload file twice).
_ORIGINAL_LISTEN_ATTRIBUTE = "_dask_cluster_launcher_listen"


def _start_http_server(
    self: Any,
    routes: Any,
    dashboard_address: Any = None,
    default_port: int = 0,
    ssl_options: Any = None,
) -> None:
    """``ServerNode.start_http_server`` without TCP: the application as distributed builds it,
    served on the scheduler's private socket or nowhere (``dashboard_address`` is ignored)."""
    from distributed.http.routing import RoutingApplication
    from distributed.scheduler import Scheduler
    from tornado.httpserver import HTTPServer

    self.http_application = RoutingApplication(routes)
    self.http_server = HTTPServer(self.http_application)
    path = getattr(type(self), _SOCKET_ATTRIBUTE, None) if isinstance(self, Scheduler) else None
    if path:
        from tornado.netutil import bind_unix_socket

        self.http_server.add_socket(bind_unix_socket(path, mode=0o600))
    # no TCP port: links built from it (``dashboard_link``) point nowhere, and the scheduler
    # offers no worker dashboard link (``get_worker_service_addr`` skips a port of None)
    self.http_server.address, self.http_server.port = path, None
    self.services["dashboard"] = self.http_server  # stopped with the server


setattr(_start_http_server, _MARK, True)


def on_one_address(address: str, default_host: str | None = None) -> str:
    """``address`` with a wildcard TCP/TLS host (``tls://:0``, ``tcp://0.0.0.0:8786``,
    ``tls://[::]:0``) replaced by the address its server is contacted at: ``default_host``
    (a worker's route to its scheduler), else the node's outward address."""
    from distributed.comm.addressing import parse_address, parse_host_port, unparse_host_port
    from distributed.utils import get_ip

    scheme, location = parse_address(address)
    if scheme not in ("tcp", "tls"):
        return address
    host, port = parse_host_port(location, default_port=0)
    if host not in ("", "0.0.0.0", "::"):
        return address
    return f"{scheme}://{unparse_host_port(default_host or get_ip(), port)}"


async def _listen(self: Any, port_or_addr: Any = None, allow_offload: bool = True, **kwargs: Any):
    """``Server.listen`` on one address instead of every interface (see ``on_one_address``)."""
    from distributed.comm.addressing import unparse_host_port
    from distributed.core import Server

    if port_or_addr is None:
        port_or_addr = self.default_port
    if isinstance(port_or_addr, int):
        port_or_addr = unparse_host_port(self.default_ip, port_or_addr)
    elif isinstance(port_or_addr, tuple):
        port_or_addr = unparse_host_port(*port_or_addr)
    port_or_addr = on_one_address(port_or_addr, kwargs.get("default_host"))
    original = getattr(Server, _ORIGINAL_LISTEN_ATTRIBUTE)
    return await original(self, port_or_addr, allow_offload, **kwargs)


setattr(_listen, _MARK, True)


def keep_listeners_on_one_address() -> None:
    """Replace ``Server.listen`` in this process (once)."""
    from distributed.core import Server

    if not getattr(Server.listen, _MARK, False):
        setattr(Server, _ORIGINAL_LISTEN_ATTRIBUTE, Server.listen)
        Server.listen = _listen  # type: ignore[method-assign]


def keep_http_private() -> None:
    """Replace ``ServerNode.start_http_server`` in this process (once)."""
    from distributed.node import ServerNode

    if not getattr(ServerNode.start_http_server, _MARK, False):
        ServerNode.start_http_server = _start_http_server  # type: ignore[method-assign]


def serve_scheduler_http_on(path: str | None) -> None:
    """Schedulers started from now on in this process serve their HTTP application (the
    dashboard) on the Unix socket ``path``; ``None``: on nothing."""
    from distributed.node import ServerNode

    keep_http_private()
    setattr(ServerNode, _SOCKET_ATTRIBUTE, path)


def dask_setup(worker: Any) -> None:
    """Run by distributed in a worker that loaded this file as its ``--preload``. A worker
    process its nanny forked (batch jobs: ``backends/batch/worker_start.py``) starts with what
    the nanny had where a spawned one starts afresh; set back what would differ:

    - the nanny's SIGTERM and SIGINT handlers (``dask worker``'s, which set an event on the
      nanny's event loop, not running here): a spawned worker ends on SIGTERM;
    - distributed's offload thread pool, a module global: a copy made after the nanny used it
      counts an idle thread that does not exist here, and work given to it (messages over
      10 MiB) would wait forever.

    Not in a worker without a nanny (``--no-nanny``), whose process keeps its own handlers."""
    import multiprocessing
    import signal
    from concurrent.futures import ThreadPoolExecutor

    import distributed.utils

    if multiprocessing.parent_process() is None:
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    fresh = ThreadPoolExecutor(max_workers=1, thread_name_prefix="Dask-Offload")
    distributed.utils._offload_executor = fresh
    worker.executors["offload"] = fresh


keep_http_private()
keep_listeners_on_one_address()
