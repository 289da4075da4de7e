"""A private cluster's dashboard, for its owner only.

The scheduler serves its dashboard on a Unix socket in the owner's 0700 directory (see
``private_http``), so neither other users of the machine nor their Jupyter servers'
``/proxy/PORT/`` can reach it. This route relays HTTP and websockets to that socket with
jupyter-server-proxy's own handler, after Jupyter authentication and authorization.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import ensure_async, url_path_join
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import web

from .errors import LauncherError
from .handlers import AUTH_RESOURCE
from .manager import ClusterManager


class DashboardProxyHandler(ProxyHandler):
    """``/dask-cluster-launcher/dashboard/<cluster id>/<path>`` -> the cluster's socket."""

    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> ClusterManager:
        return self.settings["dask_cluster_launcher_manager"]

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        await super().prepare(*args, **kwargs)  # authentication (403 / login redirect)
        if self.current_user and not await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        ):
            raise web.HTTPError(403)
        cluster_id = self.path_kwargs["cluster_id"]
        try:
            self.unix_socket = self.manager.dashboard_socket(cluster_id)
        except LauncherError as error:
            raise web.HTTPError(error.status, error.message) from None
        # the dashboard's own links are relative to where the browser sees it
        self.proxy_base = url_path_join("dask-cluster-launcher", "dashboard", cluster_id)

    async def http_get(self, cluster_id: str, proxied_path: str) -> None:
        return await self.proxy("localhost", 0, proxied_path)

    async def open(self, cluster_id: str, proxied_path: str) -> None:
        return await self.proxy_open("localhost", 0, proxied_path)

    def post(self, cluster_id: str, proxied_path: str) -> Any:
        return self.proxy("localhost", 0, proxied_path)

    def head(self, cluster_id: str, proxied_path: str) -> Any:
        return self.proxy("localhost", 0, proxied_path)


ROUTE = ("dashboard/(?P<cluster_id>[0-9a-f]+)/?(?P<proxied_path>.*)", DashboardProxyHandler)
