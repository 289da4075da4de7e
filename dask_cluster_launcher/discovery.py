"""Clusters of the user's that a service runs without this server (a Dask Gateway cluster made
in a notebook, or left by a previous server): every backend is asked every
``DISCOVER_INTERVAL`` seconds, and each cluster found is handed to the manager."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .backends import Backend
from .backends.base import Discovered

log = logging.getLogger("dask_cluster_launcher.manager")

#: Seconds between two ``discover`` calls per backend.
DISCOVER_INTERVAL = 2.0


class Discovery:
    def __init__(
        self,
        backends: dict[str, Backend],
        adopt: Callable[[Backend, Discovered], Awaitable[None]],
    ) -> None:
        self.backends = backends
        self.adopt = adopt
        #: Set at shutdown: what is found is let go at once, not handed over.
        self.closing = False

    async def run(self) -> None:
        failing: dict[str, str] = {}
        while True:
            await asyncio.sleep(DISCOVER_INTERVAL)
            for backend in list(self.backends.values()):
                try:
                    found = await asyncio.wait_for(backend.discover(), 60)
                except Exception as exc:
                    if failing.get(backend.name) != str(exc):  # once per distinct failure
                        log.warning("Listing %s clusters failed: %s", backend.title, exc)
                    failing[backend.name] = str(exc)
                    continue
                failing.pop(backend.name, None)
                for discovered in found:
                    if self.closing:
                        await backend.disconnect(discovered.cluster)
                    else:
                        await self.adopt(backend, discovered)
