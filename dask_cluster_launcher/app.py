"""The jupyter-server extension: routes, settings and shutdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Dict, Float, List, TraitError, Unicode, default, observe, validate

from . import child_env, events
from .backends import Backend, backend_names, default_backends
from .child_env import DEFAULT_DENY as DEFAULT_CHILD_ENV_DENY
from .dashboard_proxy import ROUTE as DASHBOARD_ROUTE
from .handlers import ROUTES
from .limits import Limits, limits_from_config
from .manager import ClusterManager
from .private import DEFAULT_ROOT as DEFAULT_PRIVATE_DIR
from .private import PrivateDir
from .profiles import ProfileStore, default_site_dirs
from .shutdown import stop_on_sigint


class ClusterLauncherApp(ExtensionApp):
    name = "dask_cluster_launcher"

    allowed_backends = List(
        Unicode(),
        help="Backends users may launch; the others are hidden (default: every registered "
        "backend, those of the entry point group dask_cluster_launcher.backends).",
    ).tag(config=True)

    @default("allowed_backends")
    def _every_registered_backend(self) -> list[str]:
        return backend_names()

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
        300.0,
        help="Seconds a cluster's scheduler may take to start before the launch is marked "
        "failed (its workers may then wait in the queue as long as it takes).",
    ).tag(config=True)

    keep_clusters_on_shutdown = Bool(
        False,
        help="Keep clusters running when the server stops (SIGTERM, SIGINT, shutdown), for the "
        "next server to take back; by default they are stopped so no allocation is burnt.",
    ).tag(config=True)

    host_forker = Bool(
        True,
        help="Keep one warmed-up process (about 45 MB while idle) from which every cluster host "
        "is forked: hosts share its imports (about 40 MB less per cluster) and a launch skips "
        "Python's start-up and imports (a second or more). Off: each host is a new Python.",
    ).tag(config=True)

    spare_host = Bool(
        None,
        allow_none=True,
        help="Deprecated: the name host_forker had before hosts were forked.",
    ).tag(config=True)

    @observe("spare_host")
    def _spare_host_renamed(self, change: Any) -> None:
        if change["new"] is not None:
            self.log.warning("ClusterLauncherApp.spare_host is now ClusterLauncherApp.host_forker")
            self.host_forker = change["new"]

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

    gateway_address = Unicode(
        "", help="Dask Gateway's address for the gateway backend (default: gateway.address)."
    ).tag(config=True)

    gateway_proxy_address = Unicode(
        "", help="Dask Gateway's scheduler proxy address (default: gateway.proxy-address)."
    ).tag(config=True)

    gateway_public_address = Unicode(
        "",
        help="Dask Gateway's address as browsers see it, for dashboard links (default: "
        "gateway.public-address, else the address).",
    ).tag(config=True)

    gateway_auth = Unicode(
        "",
        help="Dask Gateway auth type: basic, jupyterhub, kerberos or a class path "
        "(default: gateway.auth.type, else basic).",
    ).tag(config=True)

    gateway_auth_kwargs = Dict(
        help="Keyword arguments of the Dask Gateway auth (default: gateway.auth.kwargs). Never "
        "sent to the browser nor written into notebooks.",
    ).tag(config=True)

    gateway_call_timeout = Float(
        30.0, help="Seconds each Dask Gateway call (other than waiting for a start) may take."
    ).tag(config=True)

    limits = Dict(
        help="Limits per backend name, checked on every launch and rescale (a refusal names "
        "the limit) and shown in the forms: max_workers, max_cores (per job), max_memory (per "
        'job, e.g. "128 GB"), max_walltime ("24:00:00"), max_clusters (at once, per user). '
        'Example: {"slurm": {"max_workers": 100, "max_walltime": "24:00:00"}}.',
    ).tag(config=True)

    usage_warning_core_hours = Dict(
        value_trait=Float(min=0),
        help="Per backend name, the core-hours after which a user's cluster is flagged: its "
        "card and a notification say it passed the threshold (the cluster keeps running). "
        'Example: {"slurm": 500}.',
    ).tag(config=True)

    idle_timeout = Float(
        0.0,
        help="Seconds a cluster with no client connected and no task may stay up before it "
        "stops itself and cancels its jobs; 0 (the default) keeps it until stopped.",
    ).tag(config=True)

    batch_command_prefix = List(
        Unicode(),
        help="Command put in front of every batch command (sbatch, squeue, scancel, sinfo, "
        "sacctmgr, qsub, qstat, qdel, qconf), the launcher's and dask-jobqueue's: e.g. "
        '["ssh", "login01"], or a wrapper script that loads a module or adds "-M cluster" '
        'and then runs "$@".',
    ).tag(config=True)

    pbs_command_path = Unicode(
        None,
        allow_none=True,
        help="Directories (':'-separated) searched before the server's PATH for the PBS "
        "commands (qsub, qstat, qdel, qselect, pbsnodes), for a machine whose qsub on PATH is "
        "another batch system's; the other backends are not affected. Unset: $DCL_PBS_PATH.",
    ).tag(config=True)

    child_env_deny = List(
        Unicode(),
        default_value=list(DEFAULT_CHILD_ENV_DENY),
        help="Environment variables the launcher's processes (cluster hosts, and through "
        "them local workers and batch jobs) do not get from the Jupyter server: names "
        "matching these shell-style patterns (case-insensitive), and any variable holding "
        "the server's own token. Extend the default in a .py config with "
        "c.ClusterLauncherApp.child_env_deny.extend([...]); setting the list replaces it.",
    ).tag(config=True)

    allow_unencrypted_ucx = Bool(
        False,
        help="Offer the ucx protocol for GPU clusters (cuda backend). UCX is not encrypted: "
        "anyone who can reach the scheduler can connect and run code as its user. Only for "
        "machines (and networks) that are one user's alone.",
    ).tag(config=True)

    @validate("limits")
    def _valid_limits(self, proposal: Any) -> dict[str, Any]:
        try:
            limits_from_config(proposal["value"])
        except (TypeError, ValueError) as exc:
            raise TraitError(f"ClusterLauncherApp.{exc}") from None
        return dict(proposal["value"])

    # --- what the server, the CLI and quick_connect build from these settings -----------------
    def launcher_backends(self) -> dict[str, Backend]:
        """The allowed backends, set up from these settings (private directory not created)."""
        backends = default_backends(
            saturn_base_url=self.saturn_base_url,
            saturn_token=self.saturn_token,
            saturn_call_timeout=self.saturn_call_timeout,
            gateway={
                "address": self.gateway_address,
                "proxy_address": self.gateway_proxy_address,
                "public_address": self.gateway_public_address,
                "auth": self.gateway_auth,
                "auth_kwargs": self.gateway_auth_kwargs,
                "call_timeout": self.gateway_call_timeout,
            },
            start_timeout=self.start_timeout,
        )
        backends = {k: v for k, v in backends.items() if k in self.allowed_backends}
        private_dir = PrivateDir.at(self.private_dir)
        for backend in backends.values():
            backend.private_dir = private_dir
            if hasattr(backend, "command_prefix"):
                backend.command_prefix = tuple(self.batch_command_prefix)
            if backend.name == "pbs":
                backend.command_path = self.pbs_command_path  # type: ignore[attr-defined]
            if hasattr(backend, "allow_unencrypted_ucx"):
                backend.allow_unencrypted_ucx = self.allow_unencrypted_ucx
        return backends

    def launcher_profiles(self, backends: dict[str, Backend]) -> ProfileStore:
        return ProfileStore.for_backends(
            backends,
            site_dirs=self.site_profile_dirs,
            user_dir=self.user_profile_dir or None,
            default_name=self.default_profile,
        )

    def launcher_limits(self) -> dict[str, Limits]:
        return limits_from_config(self.limits)

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        # SIGINT (JupyterHub's "Stop My Server") must close the clusters as SIGTERM does
        stop_on_sigint(self.serverapp)
        # the hosts (and their workers and jobs) get no token of this server's
        token = getattr(getattr(self.serverapp, "identity_provider", None), "token", None)
        child_env.configure(self.child_env_deny, secret_values=[token])
        event_logger = self.serverapp.event_logger
        events.register(event_logger)
        backends = self.launcher_backends()
        PrivateDir.at(self.private_dir).ensure()
        profiles = self.launcher_profiles(backends)
        self.manager = ClusterManager(
            backends,
            profiles,
            events.ClusterEventPublisher(event_logger),
            base_url=self.serverapp.base_url,
            start_timeout=self.start_timeout,
            grace_period=self.orphan_grace_period,
            host_forker=self.host_forker,
            records_dir=Path(self.serverapp.runtime_dir) / "dask-cluster-launcher",
            kernel_spec_manager=self.serverapp.kernel_spec_manager,
            limits=self.launcher_limits(),
            idle_timeout=self.idle_timeout,
        )
        self.manager.jobs.usage.warnings = dict(self.usage_warning_core_hours)
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
