"""Where a cluster's dashboard is seen from: through this Jupyter server, in every case."""

from __future__ import annotations

from urllib.parse import urlsplit


def proxied_dashboard_url(
    base_url: str, dashboard_link: str | None, on_this_machine: bool = True
) -> str | None:
    """The dashboard through jupyter-server-proxy: ``{base_url}proxy/PORT/status``.

    A dashboard served from this machine (whatever interface its link names) is proxied from
    localhost, which jupyter-server-proxy allows by default; a remote one keeps its own link.
    """
    if not dashboard_link:
        return None
    parts = urlsplit(dashboard_link)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not (on_this_machine or loopback) or not parts.port:
        return dashboard_link
    path = parts.path.lstrip("/") or "status"
    return f"{base_url.rstrip('/')}/proxy/{parts.port}/{path}"


def dashboard_link_template(base_url: str) -> str:
    """``distributed.dashboard.link`` for notebooks: dashboards through this Jupyter server."""
    return f"{base_url.rstrip('/')}/proxy/{{port}}/status"


def private_dashboard_url(base_url: str, cluster_id: str) -> str:
    """A private cluster's dashboard, served by this extension from the cluster's socket."""
    return f"{base_url.rstrip('/')}/dask-cluster-launcher/dashboard/{cluster_id}/status"
