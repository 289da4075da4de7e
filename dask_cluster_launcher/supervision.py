"""The host processes the manager keeps beside its clusters (see ``host``): host forkers and the
records of hosts to take back after a restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Container, Iterable
from pathlib import Path

from .backends import Backend
from .hosting.host_forker import HostForker
from .hosting.records import Record, read_records, record_ids
from .private import ClusterFiles, PrivateDir

log = logging.getLogger("dask_cluster_launcher.manager")

#: Seconds between two listings of the records directory (clusters started elsewhere appear).
ADOPT_INTERVAL = 1.0


class HostPool:
    """The host processes beside the manager's clusters: one host forker per private directory
    (started with the server, see ``HostForker``) and the records of hosts this server may take
    back (after a restart, or started elsewhere by ``quick_connect``)."""

    def __init__(self, backends: dict[str, Backend], records_dir: Path, fork_hosts: bool) -> None:
        self.backends = backends
        self.records_dir = records_dir
        self.fork_hosts = fork_hosts
        self.forkers: dict[Path, HostForker] = {}
        #: Clusters stopped or let go here: never taken back while their record lingers.
        self.let_go: set[str] = set()
        #: Set at shutdown: no forker starts any more.
        self.closing = False

    def forker_for(self, backend: Backend) -> HostForker | None:
        """The forker of hosts for clusters with this backend's private directory (None when
        the operator turned it off, or at shutdown)."""
        if not self.fork_hosts or self.closing:
            return None
        root = backend.private_dir.root
        if root not in self.forkers:
            self.forkers[root] = HostForker(root)
        return self.forkers[root]

    def warm(self, backends: Iterable[Backend]) -> None:
        """A forker gets ready for the first launch of each of these backends."""
        for backend in backends:
            forker = self.forker_for(backend)
            if forker is not None:
                forker.ensure_running()

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
        for forker in self.forkers.values():
            await forker.close()


def _remove_record_and_files(record: Record, files: ClusterFiles) -> None:
    record.remove()
    files.remove()
    record.remove_local_dirs()
