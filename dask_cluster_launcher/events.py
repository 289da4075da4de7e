"""Cluster changes as Jupyter Server events, streamed to the sidebar on api/events/subscribe."""

from __future__ import annotations

from typing import Any

from . import schemas

CLUSTER_EVENT_SCHEMA_ID = "https://schema.dask-cluster-launcher.org/events/cluster"


def register(event_logger: Any) -> None:
    event_logger.register_event_schema(schemas.schema_dir() / "events" / "cluster.yaml")


class ClusterEventPublisher:
    """Emits one event per change of a cluster (the manager's ``on_change`` callback):
    ``updated`` with the whole cluster when it first appears, ``changed`` with a patch (see
    ``changes``) after that, ``removed`` when it is gone."""

    def __init__(self, event_logger: Any) -> None:
        self._event_logger = event_logger

    def __call__(self, action: str, cluster_id: str, payload: dict[str, Any] | None) -> None:
        data: dict[str, Any] = {"action": action, "cluster_id": cluster_id}
        if action == "updated" and payload is not None:
            data["cluster"] = payload
        elif action == "changed" and payload is not None:
            data["changes"] = payload
        self._event_logger.emit(schema_id=CLUSTER_EVENT_SCHEMA_ID, data=data)
