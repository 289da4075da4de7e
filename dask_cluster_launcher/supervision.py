"""The host processes the manager keeps beside its clusters (see ``host``): spare hosts and the
records of hosts to take back after a restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Container, Iterable
from pathlib import Path

from .backends import Backend
from .hosting.processes import SpareHost
from .hosting.records import Record, read_records, record_ids
from .private import ClusterFiles, PrivateDir

log = logging.getLogger("dask_cluster_launcher.manager")

#: Seconds between two listings of the records directory (clusters started elsewhere appear).
ADOPT_INTERVAL = 1.0


class HostPool:
    """The host processes beside the manager's clusters: one spare host per private directory
    (started ahead of time, see ``SpareHost``) and the records of hosts this server may take
    back (after a restart, or started elsewhere by ``quick_connect``)."""

    def __init__(self, backends: dict[str, Backend], records_dir: Path, spare_host: bool) -> None:
        self.backends = backends
        self.records_dir = records_dir
        self.spare_host = spare_host
        self.spares: dict[Path, SpareHost] = {}
        #: Clusters stopped or let go here: never taken back while their record lingers.
        self.let_go: set[str] = set()
        #: Set at shutdown: no spare starts any more.
        self.closing = False

    def spare_for(self, backend: Backend) -> SpareHost | None:
        """The spare host for clusters with this backend's private directory (None when the
        operator turned spare hosts off)."""
        if not self.spare_host:
            return None
        root = backend.private_dir.root
        if root not in self.spares:
            self.spares[root] = SpareHost(root)
        return self.spares[root]

    def refill(self, spare: SpareHost) -> None:
        if not self.closing:
            spare.refill()

    def warm(self, backends: Iterable[Backend]) -> None:
        """A spare host gets ready for the first launch of each of these backends."""
        for backend in backends:
            spare = self.spare_for(backend)
            if spare is not None:
                self.refill(spare)

    async def live_records(self, ids: Iterable[str] | None, known: Container[str]) -> list[Record]:
        """The records (all, or those of ``ids``) of this machine's running hosts that are not
        ``known`` nor let go, for a backend offered here; the records of hosts that died are
        removed, with their files and leftover batch jobs."""
        live = []
        for record in await asyncio.to_thread(read_records, self.records_dir, ids):
            spec = record.spec
            backend = self.backends.get(spec.backend)
            seen = spec.cluster_id in known or spec.cluster_id in self.let_go
            elsewhere = not (record.on_this_machine or record.in_batch_job_elsewhere)
            if backend is None or seen or elsewhere:
                # another machine's host is neither taken back nor cleaned up here, but for
                # one in a batch job of its own: this server submitted it (or could have)
                continue
            if not record.alive():  # its start time checked: a pid may be reused
                log.warning("Cluster %r (%s) died with its host", spec.name, spec.cluster_id)
                await backend.reap_leftovers(spec.cluster_id)
                files = PrivateDir.at(spec.private_root).cluster(spec.cluster_id)
                await asyncio.to_thread(_remove_record_and_files, record, files)
                continue
            live.append(record)
        return live

    async def watch_records(
        self, known: Callable[[], Container[str]], adopt: Callable[[set[str]], Awaitable[None]]
    ) -> None:
        """Clusters started while this server runs, by others than this manager (a notebook's
        ``quick_connect``), are handed to ``adopt``: one listing of the records directory a
        second; only the records of ids never seen before are read."""
        seen: set[str] = set()
        while True:
            await asyncio.sleep(ADOPT_INTERVAL)
            try:
                listed = await asyncio.to_thread(record_ids, self.records_dir)
                seen &= listed  # a record is written once: an id that left never comes back
                already = known()
                new = {i for i in listed - seen - self.let_go if i not in already}
                seen |= listed
                if new:
                    await adopt(new)
            except Exception:
                log.warning("Taking back clusters from their records failed", exc_info=True)

    async def close(self) -> None:
        self.closing = True
        for spare in self.spares.values():
            await spare.close()


def _remove_record_and_files(record: Record, files: ClusterFiles) -> None:
    record.remove()
    files.remove()
    record.remove_local_dirs()
