"""A private cluster's dashboard, for its owner only.

The scheduler serves its dashboard on a Unix socket in a private 0700 folder of the owner's (see
``private_http``), so neither other users of the machine nor their Jupyter servers'
``/proxy/PORT/`` can reach it. This route relays HTTP and websockets to that socket with
jupyter-server-proxy's own handler, after Jupyter authentication and authorization.

What authenticated the user to Jupyter never goes further: the relay removes the token (the
``Authorization`` header and ``token`` argument), cookies and XSRF values from every request it
relays. The dashboard needs none of them, and a socket that is not what it should be (however
that came about) must not receive the keys to the user's Jupyter server.
"""

from __future__ import annotations

from http.client import responses
from typing import Any
from urllib.parse import unquote_plus

from jupyter_server.utils import ensure_async, url_path_join
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import web

from .errors import LauncherError
from .handlers import AUTH_RESOURCE
from .manager import ClusterManager

#: Request headers that carry the user's Jupyter credentials (compared case-insensitively).
CREDENTIAL_HEADERS = ("Authorization", "Cookie", "X-XSRFToken", "X-CSRFToken", "X-XSRF-Token")
#: Query arguments that carry them.
CREDENTIAL_ARGUMENTS = frozenset(("token", "_xsrf"))


def without_credentials(query: str) -> str:
    """``query`` without its ``token`` and ``_xsrf`` arguments (the others as they came)."""
    kept = [
        part
        for part in query.split("&")
        if part and unquote_plus(part.partition("=")[0]) not in CREDENTIAL_ARGUMENTS
    ]
    return "&".join(kept)


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
            # the page says why there is no dashboard (Jupyter's own 404 page says nothing)
            self.set_status(error.status)
            page = self.render_template(
                "error.html",
                status_code=error.status,
                status_message=responses.get(error.status, "Error"),
                message=error.message,  # escaped by the template
                exception=error,
            )
            # finish returns a future or, through the websocket handler, nothing
            await ensure_async(self.finish(page))
            return
        # the dashboard's own links are relative to where the browser sees it
        self.proxy_base = url_path_join("dask-cluster-launcher", "dashboard", cluster_id)

    def proxy_request_headers(self) -> Any:
        """The request's headers as jupyter-server-proxy relays them (HTTP and websockets),
        less the user's credentials."""
        headers = super().proxy_request_headers()
        for name in CREDENTIAL_HEADERS:
            headers.pop(name, None)
        return headers

    def get_client_uri(self, protocol: str, host: str, port: Any, proxied_path: str) -> str:
        """The relayed URL (HTTP and websockets), less the credentials in its query."""
        uri = str(super().get_client_uri(protocol, host, port, proxied_path))
        query = self.request.query
        if not query:
            return uri
        uri = uri[: -len(query) - 1]  # jupyter-server-proxy appends "?" + the query
        kept = without_credentials(query)
        return f"{uri}?{kept}" if kept else uri

    async def http_get(self, cluster_id: str, proxied_path: str) -> None:
        return await self.proxy("localhost", 0, proxied_path)

    async def open(self, cluster_id: str, proxied_path: str) -> None:
        return await self.proxy_open("localhost", 0, proxied_path)

    def post(self, cluster_id: str, proxied_path: str) -> Any:
        return self.proxy("localhost", 0, proxied_path)

    def head(self, cluster_id: str, proxied_path: str) -> Any:
        return self.proxy("localhost", 0, proxied_path)


ROUTE = ("dashboard/(?P<cluster_id>[0-9a-f]+)/?(?P<proxied_path>.*)", DashboardProxyHandler)
