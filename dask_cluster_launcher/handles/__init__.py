"""How the manager holds its clusters: one ``ClusterHandle`` per cluster, its type saying
where the cluster runs (see ``base``)."""

from ..backends import Backend
from .base import ClusterHandle, ClusterRow, Reports, failure_reason
from .hosted import HostedHandle
from .in_process import DiscoveredHandle, InProcessHandle


def runs_in_host(backend: Backend) -> bool:
    """Whether the backend's clusters run in a host process of their own (the launcher
    secures them: TLS credentials and a private dashboard socket; or their scheduler is
    someone else's, whose messages are never read in this process), or in this process."""
    return bool(backend.private_cluster or backend.runs_in_host)


__all__ = [
    "ClusterHandle",
    "ClusterRow",
    "DiscoveredHandle",
    "HostedHandle",
    "InProcessHandle",
    "Reports",
    "failure_reason",
    "runs_in_host",
]
