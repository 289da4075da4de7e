"""One configuration for the server, the command line and the Python API.

The server reads ``c.ClusterLauncherApp.*`` from the Jupyter config files; the CLI and
``quick_connect``/``make_cluster`` read the same files here, the way Jupyter Server does: in the
Jupyter config path (``jupyter --paths``: ``$JUPYTER_CONFIG_DIR`` first, then the environment's
and the system's), ``jupyter_config``, ``jupyter_server_config`` and the extension's own
``jupyter_dask_cluster_launcher_config`` (``.py`` or ``.json``), later files winning. So a site's
profile directories, private directory, limits, idle timeout, batch command prefix and the
variables kept from cluster processes (``child_env_deny``) apply to all three. (Settings given on
the server's command line apply to the server only.)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from traitlets.config import Application, Config

if TYPE_CHECKING:
    from .app import ClusterLauncherApp
    from .manager import ClusterManager
    from .requests import RequestResolver

log = logging.getLogger(__name__)

#: The config files Jupyter Server reads for this extension, lowest priority first.
CONFIG_FILES = ("jupyter_config", "jupyter_server_config", "jupyter_dask_cluster_launcher_config")


def config_paths() -> list[str]:
    """Jupyter's config directories, highest priority first (as ``JupyterApp`` searches)."""
    from jupyter_core.paths import jupyter_config_dir, jupyter_config_path

    paths = jupyter_config_path()
    if jupyter_config_dir() not in paths:
        paths.insert(0, jupyter_config_dir())
    return paths


def jupyter_config(paths: list[str] | None = None) -> Config:
    """The merged Jupyter config that a Jupyter server started here would read."""
    paths = config_paths() if paths is None else paths
    config = Config()
    for name in CONFIG_FILES:
        # each file name over the path, lowest priority (last path) first
        for loaded, _ in Application._load_config_files(name, path=paths, log=log):
            config.merge(loaded)
    return config


def launcher_settings(config: Config | None = None) -> ClusterLauncherApp:
    """The extension's settings (``ClusterLauncherApp`` traitlets) from the Jupyter config."""
    from .app import ClusterLauncherApp

    return ClusterLauncherApp(config=jupyter_config() if config is None else config)


def launcher_requests(settings: ClusterLauncherApp | None = None) -> RequestResolver:
    """Requests resolved with the backends, profiles and limits the server would have; the
    hosts this process then starts get what the server's would: no secrets (``child_env``)."""
    from .child_env import configure
    from .requests import RequestResolver

    settings = launcher_settings() if settings is None else settings
    configure(settings.child_env_deny)
    backends = settings.launcher_backends()
    profiles = settings.launcher_profiles(backends)
    return RequestResolver(backends, profiles, settings.launcher_limits())


def launcher_manager(settings: ClusterLauncherApp | None = None, **kwargs: Any) -> ClusterManager:
    """A manager with the backends, profiles and limits the server would have (no events)."""
    from .child_env import configure
    from .manager import ClusterManager

    settings = launcher_settings() if settings is None else settings
    # the hosts this process starts get what the server's would: no secrets
    configure(settings.child_env_deny)
    backends = settings.launcher_backends()
    return ClusterManager(
        backends,
        settings.launcher_profiles(backends),
        limits=settings.launcher_limits(),
        idle_timeout=settings.idle_timeout,
        grace_period=settings.orphan_grace_period,
        start_timeout=settings.start_timeout,
        **kwargs,
    )
