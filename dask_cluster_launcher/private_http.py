"""Keep the HTTP servers of a cluster's scheduler and workers off the network.

distributed starts an HTTP server (dashboard, /info, /metrics) on a TCP port in every scheduler
and worker, without authentication; on a shared machine any user could read it. This module
closes those ports:

- the scheduler's dashboard moves to a Unix socket in the cluster's private 0700 directory,
  which the Jupyter server proxies for its authenticated user only;
- a worker's HTTP server is simply stopped (used as a worker ``--preload`` file, so that it
  works with whatever Python the batch job runs: it imports only distributed and tornado).

TCP listeners are bound to loopback and closed as soon as the server has started.
"""

from __future__ import annotations

import logging
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

log = logging.getLogger("distributed.preloading")


def dask_setup(worker: Any) -> None:
    """Worker preload: stop the worker's HTTP server (its RPC port stays, behind TLS)."""
    http_server = getattr(worker, "http_server", None)
    if http_server is not None:
        http_server.stop()


class UnixSocketDashboard(SchedulerPlugin):
    """Serves the scheduler's HTTP application (the dashboard) on a Unix socket, and stops
    serving it when the scheduler closes."""

    name = "dask-cluster-launcher-unix-dashboard"

    def __init__(self, path: str) -> None:
        self.path = path
        self.http_server: Any = None

    async def start(self, scheduler: Any) -> None:
        from tornado.httpserver import HTTPServer
        from tornado.netutil import bind_unix_socket

        scheduler.http_server.stop()  # the TCP port distributed opened
        self.http_server = HTTPServer(scheduler.http_application)
        self.http_server.add_socket(bind_unix_socket(self.path, mode=0o600))

    async def close(self) -> None:
        if self.http_server is not None:
            self.http_server.stop()
            self.http_server = None


async def serve_dashboard_on_unix_socket(scheduler: Any, path: str) -> None:
    """Move a running scheduler's dashboard from its TCP port to the Unix socket ``path``."""
    await scheduler.register_scheduler_plugin(UnixSocketDashboard(path), idempotent=False)
