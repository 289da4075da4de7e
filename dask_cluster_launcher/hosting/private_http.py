"""Keep the HTTP servers of a cluster's scheduler and workers off the network, from the start.

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

Standalone on purpose: it imports only distributed and tornado.
"""

from __future__ import annotations

from typing import Any

#: Marks the replacement, so that importing this module twice (the package's module and the
#: preload copy in one process) installs it once.
_MARK = "_dask_cluster_launcher_private"
#: Where the scheduler's socket path is kept: on the class, shared by every copy of this module.
_SOCKET_ATTRIBUTE = "_dask_cluster_launcher_scheduler_socket"


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


keep_http_private()
