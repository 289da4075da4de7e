"""The jupyter-server extension: routes, settings and shutdown."""

from __future__ import annotations

from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, List, Unicode

from . import events
from .backends import default_backends
from .dashboard_proxy import ROUTE as DASHBOARD_ROUTE
from .handlers import ROUTES
from .manager import ClusterManager
from .private import DEFAULT_ROOT as DEFAULT_PRIVATE_DIR
from .private import PrivateDir
from .profiles import ProfileStore, default_site_dirs
from .shutdown import stop_on_sigint


class ClusterLauncherApp(ExtensionApp):
    name = "dask_cluster_launcher"

    allowed_backends = List(
        Unicode(),
        default_value=["local", "slurm", "sge", "saturn"],
        help="Backends users may launch; the others are hidden.",
    ).tag(config=True)

    site_profile_dirs = List(
        Unicode(),
        default_value=default_site_dirs(),
        help="Directories of site profiles (YAML or JSON files), read-only for users.",
    ).tag(config=True)

    private_dir = Unicode(
        DEFAULT_PRIVATE_DIR,
        help="The user's private directory (made 0700): each cluster's TLS credentials and "
        "dashboard socket, and default job logs. Batch jobs read the credentials from there, "
        "so it must be on a file system the compute nodes share (the home directory is).",
    ).tag(config=True)

    user_profile_dir = Unicode(
        help="Directory where users' own profiles are saved (default: in the Jupyter data dir)."
    ).tag(config=True)

    default_profile = Unicode("local", help="Profile the sidebar preselects.").tag(config=True)

    start_timeout = Float(
        300.0, help="Seconds a cluster may take to start before it is marked failed."
    ).tag(config=True)

    keep_clusters_on_shutdown = Bool(
        False,
        help="Keep clusters running when the server stops (SIGTERM, SIGINT, shutdown), for the "
        "next server to take back; by default they are stopped so no allocation is burnt.",
    ).tag(config=True)

    orphan_grace_period = Float(
        600.0,
        help="Seconds a cluster whose server is gone (a crash, or kept on shutdown) waits for a "
        "server to take it back; after that, with no client connected, it stops itself and "
        "cancels its jobs.",
    ).tag(config=True)

    saturn_base_url = Unicode(
        "", help="Saturn Cloud's base URL for the Saturn backend (default: $SATURN_BASE_URL)."
    ).tag(config=True)

    saturn_token = Unicode(
        "",
        help="Saturn Cloud API token (default: $SATURN_TOKEN). Never sent to the browser; "
        "exported to this server's environment, where dask_saturn reads it.",
    ).tag(config=True)

    saturn_call_timeout = Float(
        30.0, help="Seconds each Saturn Cloud API call (other than starting) may take."
    ).tag(config=True)

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        # SIGINT (JupyterHub's "Stop My Server") must close the clusters as SIGTERM does
        stop_on_sigint(self.serverapp)
        event_logger = self.serverapp.event_logger
        events.register(event_logger)
        backends = default_backends(
            saturn_base_url=self.saturn_base_url,
            saturn_token=self.saturn_token,
            saturn_call_timeout=self.saturn_call_timeout,
            start_timeout=self.start_timeout,
        )
        backends = {k: v for k, v in backends.items() if k in self.allowed_backends}
        private_dir = PrivateDir.at(self.private_dir).ensure()
        for backend in backends.values():
            backend.private_dir = private_dir
        profiles = ProfileStore.for_backends(
            backends,
            site_dirs=self.site_profile_dirs,
            user_dir=self.user_profile_dir or None,
            default_name=self.default_profile,
        )
        self.manager = ClusterManager(
            backends,
            profiles,
            events.ClusterEventPublisher(event_logger),
            base_url=self.serverapp.base_url,
            start_timeout=self.start_timeout,
            grace_period=self.orphan_grace_period,
            records_dir=Path(self.serverapp.runtime_dir) / "dask-cluster-launcher",
            kernel_spec_manager=self.serverapp.kernel_spec_manager,
        )
        self.settings["dask_cluster_launcher_manager"] = self.manager

    def initialize_handlers(self) -> None:
        # ExtensionApp prefixes the server's base_url
        self.handlers.extend(
            (url_path_join("/dask-cluster-launcher", path), handler)
            for path, handler in [*ROUTES, DASHBOARD_ROUTE]
        )

    async def _start_jupyter_server_extension(self, serverapp: object) -> None:
        # clusters whose hosts outlived the previous server reappear in the sidebar, and those
        # started later by others (a notebook's quick_connect) appear as they start
        await self.manager.reattach()
        self.manager.start_watchers()

    async def stop_extension(self) -> None:
        keep = self.keep_clusters_on_shutdown
        self.log.info("%s every Dask cluster of this server", "Letting go" if keep else "Stopping")
        await self.manager.close_all(keep_running=keep)
