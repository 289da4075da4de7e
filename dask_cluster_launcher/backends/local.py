"""Workers on this machine: distributed.LocalCluster, the default that works anywhere."""

from __future__ import annotations

from typing import Any

from dask.utils import parse_bytes

from ..private import ClusterFiles
from .base import Backend, require


class LocalBackend(Backend):
    name = "local"
    title = "Local"
    schema_file = "backends/local.yaml"
    cluster_class_path = "dask.distributed.LocalCluster"

    def cluster_class(self) -> type:
        from distributed import LocalCluster

        return LocalCluster

    async def check_consistency(self, options: dict[str, Any]) -> None:
        memory = options["memory_limit"]
        if memory != "auto":
            try:
                ok = parse_bytes(memory) > 0
            except ValueError:
                ok = False
            require(ok, "options.memory_limit", "must be 'auto' or a size such as '2 GiB'")

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        return {
            "n_workers": 0,
            "threads_per_worker": options["threads_per_worker"],
            "processes": options["processes"],
            "memory_limit": options["memory_limit"],
            # TLS even for thread workers, so notebooks (other processes) can connect, and only
            # with the cluster's credentials (mutual TLS; see dask_cluster_launcher.private)
            "protocol": "tls://",
            "security": True,
            "host": "127.0.0.1",
            # a free port per cluster, never a shared 8787; moved to a private socket at start
            "scheduler_port": 0,
            "dashboard_address": "127.0.0.1:0",
        }

    def with_credentials(self, kwargs: dict[str, Any], files: ClusterFiles) -> dict[str, Any]:
        return {
            **kwargs,
            "security": files.security(),
            "preload": [str(files.worker_preload)],  # closes each worker's HTTP port
        }
