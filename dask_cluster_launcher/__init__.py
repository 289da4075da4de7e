"""dask-cluster-launcher: launch Dask clusters (local, SLURM, SGE, Saturn) from JupyterLab."""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # a source checkout that was never built
    __version__ = "0.0.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "dask-cluster-launcher"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import ClusterLauncherApp

    return [{"module": "dask_cluster_launcher", "app": ClusterLauncherApp}]


def __getattr__(name: str) -> Any:
    # The Python API imports dask lazily so that loading the server extension stays fast.
    if name == "connect":  # the inserted code's call: light, it runs as a cluster starts
        from .connecting import connect

        return connect
    if name in ("quick_connect", "make_cluster"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["__version__", "connect", "make_cluster", "quick_connect"]
