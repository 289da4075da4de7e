"""The manager's supervision of clusters that run in host processes of their own (see
``host``): starting a host, mirroring its state, and taking hosts back after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .backends import Backend
from .backends.registry import class_path
from .backends.base import Discovered
from .changes import ClusterPatch
from .hosts import HostGone, HostProcess, SpareHost
from .launched import LaunchedCluster, failure_reason
from .private import ClusterFiles, PrivateDir
from .records import HostSpec, Record, pid_alive, read_records, record_ids

log = logging.getLogger("dask_cluster_launcher.manager")

#: Unanswered watch calls in a row before a host that is still alive counts as lost.
WATCH_RETRIES = 10

#: Seconds between two listings of the records directory (clusters started elsewhere appear).
ADOPT_INTERVAL = 1.0
#: Seconds between two ``discover`` calls per backend (clusters of the user's services, such as
#: Dask Gateway, that this server did not start appear).
DISCOVER_INTERVAL = 2.0
#: Seconds after a launch took the spare host before the next spare starts even if the
#: cluster has not got its workers yet (see ``SpareHost``).
SPARE_REFILL_AFTER = 30.0


def host_spec(
    backend: Backend,
    cluster_id: str,
    name: str,
    options: dict[str, Any],
    scaling: dict[str, Any],
    *,
    records_dir: Path,
    grace_period: float,
    profile: str | None = None,
    kwargs: dict[str, Any] | None = None,
    created: str | None = None,
    python: str | None = None,
) -> HostSpec:
    """The spec of a host for a resolved request (backend, validated options, scaling), with
    its credentials and logs in the backend's private directory; ``kwargs`` (the cluster
    class's arguments) are computed from the options unless given. Shared by the manager and
    ``quick_connect``, so a cluster looks the same whoever started it."""
    if kwargs is None:
        kwargs = backend.cluster_kwargs(options, cluster_id=cluster_id, cluster_name=name)
    return HostSpec(
        cluster_id=cluster_id,
        name=name,
        backend=backend.name,
        kwargs=kwargs,
        scaling=scaling,
        private_root=str(backend.private_dir.root),
        records_dir=str(records_dir),
        grace_period=grace_period,
        options=options,
        profile=profile,
        created=created or datetime.now(timezone.utc).isoformat(),
        python=python,
        backend_class=class_path(type(backend)),
    )


def launch_settled(launched: LaunchedCluster) -> bool:
    """Running with the workers it asked for (at least the minimum when adaptive)."""
    scaling = launched.scaling
    wanted = scaling["adapt"]["minimum"] if "adapt" in scaling else scaling.get("workers", 0)
    running = sum(1 for worker in launched.workers if worker["status"] == "running")
    return launched.state == "running" and running >= wanted


class HostSupervision:
    """Mixed into ClusterManager, which provides these attributes and methods."""

    backends: dict[str, Backend]
    records_dir: Path
    grace_period: float
    start_timeout: float
    _clusters: dict[str, LaunchedCluster]
    #: Clusters this manager stopped or let go: never taken back while their record lingers.
    _let_go: set[str]
    _spares: dict[Path, SpareHost]
    spare_host: bool
    #: Clusters found by ``Backend.discover``: listed as external, let go at shutdown.
    _discovered: set[str]
    #: Set at shutdown: discovery takes in nothing more.
    _releasing = False
    _ensure_watchers: Callable[[], None]
    _publish: Callable[[LaunchedCluster], None]
    _unlist: Callable[[LaunchedCluster], None]

    async def _fail(self, launched: LaunchedCluster, reason: str) -> None:
        raise NotImplementedError

    def _spare_host(self, backend: Backend) -> SpareHost | None:
        """The spare host for clusters with this backend's private directory (None when the
        operator turned spare hosts off)."""
        if not self.spare_host:
            return None
        root = backend.private_dir.root
        if root not in self._spares:
            self._spares[root] = SpareHost(root)
        return self._spares[root]

    def _host_spec(self, launched: LaunchedCluster) -> HostSpec:
        return host_spec(
            launched.backend,
            launched.id,
            launched.name,
            launched.options,
            launched.scaling,
            records_dir=self.records_dir,
            grace_period=self.grace_period,
            profile=launched.profile,
            kwargs=launched.kwargs,
            created=launched.created,
            python=launched.python,
        )

    async def _run_hosted(self, launched: LaunchedCluster, host: HostProcess | None = None) -> None:
        """Start the cluster's host process (or follow an existing one) and mirror its state:
        each ``changes`` returns what changed in the host as soon as something did."""
        assert launched.files is not None
        loop = asyncio.get_running_loop()
        spare: SpareHost | None = None
        try:
            if host is None:
                log_path = Path(launched.backend.private_dir.log_directory(launched.id), "host.log")
                spare = self._spare_host(launched.backend)
                spec = self._host_spec(launched)
                host = await HostProcess.spawn(spec, launched.files, log_path, spare)
            launched.cluster = host
            refill_at = loop.time() + SPARE_REFILL_AFTER
            deadline = loop.time() + self.start_timeout
            unanswered = 0
            while True:
                timeout = 30.0
                if launched.state == "starting":
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        raise asyncio.TimeoutError
                try:
                    patch = await host.changes(timeout=min(timeout, 30.0))
                    unanswered = 0
                except HostGone:
                    # a busy machine can delay an answer: only a host that is gone is a failure
                    unanswered += 1
                    if await host.exited(0.5) or unanswered > WATCH_RETRIES:
                        raise
                    continue
                if launched.state == "stopping":
                    return  # stop() owns the cluster now; never flip it back
                model = host.mirror.fields
                if model["state"] in ("stopping", "stopped") and not model["error"]:
                    # its owner stopped it elsewhere (``make_cluster``'s object closed): it
                    # leaves the sidebar, as one stopped here does
                    self._let_go.add(launched.id)
                    self._unlist(launched)
                    return
                if model["state"] in ("failed", "stopping", "stopped"):
                    # the launcher did not ask for this: the host gave up on its cluster
                    await self._fail(launched, model["error"] or "the cluster stopped by itself")
                    return
                self._mirror(launched, patch)
                if spare is not None and (launch_settled(launched) or loop.time() > refill_at):
                    spare.refill()
                    spare = None
        except asyncio.CancelledError:
            raise
        except HostGone as exc:
            log.warning("The host of cluster %r is gone: %s", launched.name, exc)
            await self._fail(launched, "the cluster's host process exited")
        except Exception as exc:
            log.warning("Cluster %r failed to start", launched.name, exc_info=True)
            await self._fail(launched, failure_reason(exc))
        finally:
            if spare is not None and not self._releasing:
                spare.refill()  # the launch ended before it settled

    def _mirror(self, launched: LaunchedCluster, patch: ClusterPatch) -> None:
        """Apply what changed in the host to the cluster and publish it: the worker rows of
        the host's patch go out as they came, so a change costs what changed."""
        fields = patch.get("fields", {})
        for key in _MIRRORED_FIELDS.intersection(fields):
            setattr(launched, key, fields[key])
        if "workers" in patch:
            launched.worker_rows.apply(patch["workers"])
        if fields or "workers" in patch:
            self._publish(launched)

    async def reattach(self, ids: Iterable[str] | None = None) -> None:
        """Take back the clusters whose hosts outlived a previous server or were started
        elsewhere (``quick_connect``), from their records (all, or those of ``ids``); clean up
        after hosts that died, cancelling their leftover batch jobs."""
        for record in await asyncio.to_thread(read_records, self.records_dir, ids):
            spec = record.spec
            backend = self.backends.get(spec.backend)
            known = spec.cluster_id in self._clusters or spec.cluster_id in self._let_go
            if backend is None or known or not record.on_this_machine:
                continue  # another machine's host is neither taken back nor cleaned up here
            files = PrivateDir.at(spec.private_root).cluster(spec.cluster_id)
            if not pid_alive(record.pid):
                log.warning("Cluster %r (%s) died with its host", spec.name, spec.cluster_id)
                await backend.reap_leftovers(spec.cluster_id)
                await asyncio.to_thread(_remove_record_and_files, record, files)
                continue
            launched = LaunchedCluster(
                id=spec.cluster_id,
                name=spec.name,
                backend=backend,
                options=spec.options,
                kwargs=spec.kwargs,
                scaling=spec.scaling,
                profile=spec.profile,
                created=spec.created,
                files=files,
            )
            self._clusters[launched.id] = launched
            self._ensure_watchers()
            host = HostProcess.attach(record, files)
            launched.task = asyncio.create_task(self._run_hosted(launched, host))
            log.info("Took back cluster %r (%s) from its record", spec.name, spec.cluster_id)

    async def _adopt_new_records(self) -> None:
        """Clusters started while this server runs, by others than this manager (a notebook's
        ``quick_connect``), appear in the sidebar: one listing of the records directory a
        second; only the records of ids never seen before are read."""
        seen: set[str] = set()
        while True:
            await asyncio.sleep(ADOPT_INTERVAL)
            try:
                listed = await asyncio.to_thread(record_ids, self.records_dir)
                seen &= listed  # a record is written once: an id that left never comes back
                new = listed - seen - self._clusters.keys() - self._let_go
                seen |= listed
                if new:
                    await self.reattach(new)
            except Exception:
                log.warning("Taking back clusters from their records failed", exc_info=True)

    async def _discover_clusters(self) -> None:
        """Clusters of the user's that a service runs without this server (a Dask Gateway
        cluster made in a notebook, or left by a previous server) appear in the sidebar,
        marked external: every backend is asked every ``DISCOVER_INTERVAL`` seconds."""
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
                    await self._adopt_discovered(backend, discovered)

    async def _adopt_discovered(self, backend: Backend, found: Discovered) -> None:
        cluster_id = f"{backend.name}-{found.key}"
        known = self._clusters.get(cluster_id)
        if self._releasing or (known is not None and known.state != "failed"):
            # shutting down, or listed already (a failed card is replaced)
            await backend.disconnect(found.cluster)
            return
        scheduler_address, dashboard_link = backend.addresses(found.cluster)
        launched = LaunchedCluster(
            id=cluster_id,
            name=found.name,
            backend=backend,
            options=found.options,
            kwargs={},
            scaling=found.scaling,
            state="running",
            cluster=found.cluster,
            scheduler_address=scheduler_address,
            dashboard_link=dashboard_link,
            created=found.created or datetime.now(timezone.utc).isoformat(),
        )
        self._clusters[cluster_id] = launched
        self._discovered.add(cluster_id)
        log.info("Found %s cluster %r, not started here", backend.title, found.name)
        self._publish(launched)

    async def _release_discovered(self) -> None:
        """Server shutdown, first: clusters this server did not start are let go, not
        stopped, and no more are taken in."""
        self._releasing = True
        for cluster_id in list(self._discovered):
            launched = self._clusters.pop(cluster_id, None)
            if launched is not None and launched.cluster is not None:
                with contextlib.suppress(Exception):
                    await launched.backend.disconnect(launched.cluster)

    async def _close_connections(self) -> None:
        """Server shutdown, last: the backends close their connections to their services."""
        for backend in self.backends.values():
            with contextlib.suppress(Exception):
                await backend.close_connections()


#: The host's fields a launched cluster takes (its state is starting or running here; the
#: supervisor handles the others).
_MIRRORED_FIELDS = frozenset(
    ("state", "error", "scheduler_address", "messages", "scaling", "versions")
)


def _remove_record_and_files(record: Record, files: ClusterFiles) -> None:
    record.remove()
    files.remove()
