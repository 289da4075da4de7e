"""Cluster changes, streamed to the sidebar on the launcher's own WebSocket
(``dask-cluster-launcher/events``, see ``handlers.ClusterEventsHandler``).

They do not go on Jupyter Server's event bus (``api/events/subscribe``): the bus hands every
event to anyone allowed to subscribe to ``events``, whatever they may do with the launcher, and
anyone allowed to post to ``api/events`` can emit an event under a registered schema, which the
sidebar would then show as a cluster. The launcher's stream is only for callers authorized to
``read`` the launcher's resource, and only the server writes to it.

Each message is the JSON the bus sent before: ``{"schema_id": CLUSTER_EVENT_SCHEMA_ID,
"action", "cluster_id", "cluster"?, "changes"?}``, valid against ``schema/events/cluster.yaml``.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable
from typing import Any

CLUSTER_EVENT_SCHEMA_ID = "https://schema.dask-cluster-launcher.org/events/cluster"

log = logging.getLogger("dask_cluster_launcher.events")

#: Receives each event as the text sent on the WebSocket.
Subscriber = Callable[[str], None]

# The publisher of each Jupyter server, keyed by the server's event logger: the extension
# builds its publisher with that logger, and the WebSocket handler finds it through the same one.
_publishers: weakref.WeakKeyDictionary[Any, ClusterEventPublisher] = weakref.WeakKeyDictionary()


def register(event_logger: Any) -> None:
    """Nothing to register on the server's event bus: cluster events are not sent there (see
    the module's docstring), so that ``api/events`` cannot carry a forged cluster either."""


def publisher_of(event_logger: Any) -> ClusterEventPublisher | None:
    """The cluster events of the server that owns ``event_logger``."""
    return _publishers.get(event_logger)


class ClusterEventPublisher:
    """Sends one message per change of a cluster (the manager's ``on_change`` callback) to
    every subscriber: ``updated`` with the whole cluster when it first appears, ``changed``
    with a patch (see ``changes``) after that, ``removed`` when it is gone.

    ``event_logger`` names the server this publisher belongs to (see ``publisher_of``).
    """

    def __init__(self, event_logger: Any = None) -> None:
        self._subscribers: set[Subscriber] = set()
        if event_logger is not None:
            _publishers[event_logger] = self

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def __call__(self, action: str, cluster_id: str, payload: dict[str, Any] | None) -> None:
        if not self._subscribers:
            return
        data: dict[str, Any] = {
            "schema_id": CLUSTER_EVENT_SCHEMA_ID,
            "action": action,
            "cluster_id": cluster_id,
        }
        if action == "updated" and payload is not None:
            data["cluster"] = payload
        elif action == "changed" and payload is not None:
            data["changes"] = payload
        text = json.dumps(data)  # once, whatever the number of subscribers
        for subscriber in list(self._subscribers):
            try:
                subscriber(text)
            except Exception:  # one broken subscriber must not starve the others
                log.warning("A cluster event subscriber failed", exc_info=True)
