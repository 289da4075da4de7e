"""The cluster host: one process per cluster, started by a supervisor (the Jupyter server).

``python -m dask_cluster_launcher.run_host SPEC.json`` creates the real cluster object
(LocalCluster, SLURMCluster, SGECluster) with the backend's own code, hosts its scheduler, and
answers the supervisor over Dask's RPC, secured with the cluster's TLS credentials:

- ``watch(since, timeout)``: what changed in the cluster's model since version ``since`` (a
  patch, see ``changes.VersionedModel``; the whole model for ``since`` 0), once there is
  something (a long poll: changes arrive at once, nothing is sent while nothing changes);
- ``rescale(scaling)``: fixed size or adaptive; ``stop_cluster()``: stop the cluster, its jobs
  and the host.

It prints one JSON line (``{"control": address}``) once it listens, writes its record (see
``records``), and stops itself, cancelling its jobs, when no supervisor has watched it and no
client has been connected for ``grace_period`` seconds (a crashed Jupyter server leaves nothing
in the queue for long). SIGTERM and SIGINT stop the cluster too.

A host can also run inside a batch job of its own (the scheduler on a compute node, see
``job_host``): the supervisor submits it and reads its control address from its record; the
control server then listens on the node's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..backends import Backend
from ..changes import HostPatch, Row, VersionedModel
from ..errors import LauncherError
from ..kernels import client_notice, this_python_versions
from ..private import ClusterFiles, PrivateDir, check_private_folder, make_scheduler_dirs
from . import job_host
from .records import HostSpec, Record, process_start_time
from .scheduler_events import SchedulerEvents
from .self_stop import stop_when_abandoned, stop_when_idle

log = logging.getLogger("dask_cluster_launcher.hosting.host")

#: Workers joining or leaving and their status changes are seen at once (scheduler events);
#: other changes (a scheduler the backend reads remotely) by a look this often, or every
#: FOLLOW_UP_SECONDS for a while after an event.
WORKER_POLL_SECONDS = 1.0
FOLLOW_UP_SECONDS = 0.1
FOLLOW_UP_FOR = 2.0
#: How often a fixed-size cluster with workers missing asks its resource manager again.
RESCALE_SECONDS = 15.0


def print_answer(answer: dict[str, Any]) -> None:
    """A host started by its supervisor answers on its standard output."""
    print(json.dumps(answer), flush=True)


class ClusterHost:
    def __init__(
        self,
        spec: HostSpec,
        backend: Backend,
        announce: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        #: How it says where it listens, once it does (a forked host: through its forker).
        self.announce = announce or print_answer
        self.spec = job_host.placed_on_node(spec)  # inside a batch job: the node's interface
        self.backend = backend
        job_host.keep_own_job(self.spec, backend)
        self.backend.private_dir = PrivateDir.at(spec.private_root)
        self.files: ClusterFiles = self.backend.private_dir.cluster(spec.cluster_id)
        self.cluster: Any = None
        self.model = VersionedModel(
            {
                "state": "starting",
                "error": None,
                "scheduler_address": None,
                "messages": [],
                "scaling": spec.scaling,
                "versions": this_python_versions(),
            }
        )
        #: Set at the model's next change (then replaced): no lock, so a change never waits
        #: for a watcher (see ``_update``).
        self._changed = asyncio.Event()
        self._stopped = asyncio.Event()
        #: Watch calls in progress, and when the last one ended (see ``self_stop``).
        self.watchers = 0
        self.last_watched = time.monotonic()
        self._record: Record | None = None
        self._pending: set[asyncio.Future[None]] = set()  # updates and stops in flight
        self._client_notices: dict[str, str] = {}  # client id -> what the card says about it
        self._seen_specs: set[str] = set()  # worker specs whose workers have been running
        self._workers_changed = asyncio.Event()
        self._last_scaled = time.monotonic()
        #: The scheduler's dashboard socket and the folders made for it (see ``_make_local_dirs``)
        self.dashboard_socket: str | None = None
        self.local_dirs: list[str] = []
        self._no_local_dirs: LauncherError | None = None

    # --- control handlers (Dask RPC) -----------------------------------------------------------
    async def watch(self, since: int = 0, timeout: float = 30.0) -> HostPatch:
        # a supervisor that died mid-call is noticed when the call ends: keep calls short
        # against the grace period
        timeout = min(timeout, max(self.spec.grace_period / 2, 0.5))
        self.watchers += 1
        try:
            if self.model.version == since:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
            return self.model.since(since)
        finally:
            self.watchers -= 1
            self.last_watched = time.monotonic()

    async def rescale(self, scaling: dict[str, Any]) -> dict[str, Any]:
        if self.state != "running":
            raise RuntimeError(f"the cluster is {self.state}, not running")
        await self._apply_scaling(scaling)
        await self._update(scaling=scaling)
        return self.model.whole()

    async def close(self, reason: str | None = None) -> None:
        """Stop the cluster and its jobs, then the host; ``reason``: why, when it stops itself."""
        if self.state in ("stopping", "stopped") or self._stopped.is_set():
            return
        failed = self.state == "failed"  # the reason stays what watchers see
        if not failed:
            changes: dict[str, Any] = {"error": reason} if reason else {}
            await self._update(state="stopping", **changes)
        if self.cluster is not None:
            try:
                await asyncio.wait_for(self.backend.close(self.cluster), 60)
            except Exception:
                log.warning("Closing the cluster failed", exc_info=True)
        await self._update(workers=[], **({} if failed else {"state": "stopped"}))
        self._stopped.set()

    def _stop_soon(self, reason: str) -> None:
        stop = asyncio.ensure_future(self.close(reason))
        self._pending.add(stop)
        stop.add_done_callback(self._pending.discard)

    # --- running ---------------------------------------------------------------------------------
    async def run(self) -> None:
        from distributed.core import Server

        security = self.files.security()
        handlers = {"watch": self.watch, "rescale": self.rescale, "stop_cluster": self.close}
        # its work folder (lock files) in the private directory: distributed's default,
        # /tmp/dask-scratch-space, is anyone's to create or link first
        server = Server(handlers, local_directory=str(self.files.directory))
        # loopback beside Jupyter; the node's address inside a batch job (see ``job_host``)
        address = job_host.control_listen_address(self.spec)
        await server.listen(address, **security.get_listen_args("scheduler"))
        try:
            await asyncio.to_thread(self._make_local_dirs)
        except LauncherError as exc:
            self._no_local_dirs = exc  # the start fails with the reason
        # inside its own job: the dashboard for the Jupyter server's relay, over TLS
        dashboard = await job_host.open_dashboard_listener(
            self.spec, self.dashboard_socket, self.files
        )
        self._record = Record(
            self.spec,
            os.getpid(),
            server.address,
            started=process_start_time(os.getpid()),
            dashboard_socket=self.dashboard_socket,
            local_dirs=self.local_dirs,
            batch_job_id=job_host.record_job_id(self.spec, self.backend),
            dashboard_address=None if dashboard is None else dashboard.address,
        )
        self._record.write()
        self.announce({"control": server.address, "dashboard_socket": self.dashboard_socket})
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # with the reason: a supervisor shows it (a stop without one is its owner's, and
            # the cluster just leaves the sidebar)
            why = job_host.stop_reason(self.spec, signum, self.backend)
            loop.add_signal_handler(signum, self._stop_soon, why)
        tasks = [
            asyncio.create_task(self._start()),
            asyncio.create_task(self._watch_workers()),
            asyncio.create_task(stop_when_abandoned(self)),
            asyncio.create_task(stop_when_idle(self)),
        ]
        try:
            await self._stopped.wait()
            await asyncio.sleep(0.2)  # let watchers collect the final state
        finally:
            for task in tasks:
                task.cancel()
            self._record.remove()
            self.files.remove()
            self._record.remove_local_dirs()
            if dashboard is not None:
                await dashboard.close()
            await server.close()

    async def _start(self) -> None:
        try:
            self._keep_http_private()
            kwargs = self.backend.with_credentials(self.spec.kwargs, self.files)
            self.cluster = await self.backend.start(kwargs, self._progress, self.files)
            scheduler = getattr(self.cluster, "scheduler", None)
            if scheduler is not None and hasattr(scheduler, "add_plugin"):
                scheduler.add_plugin(SchedulerEvents(self._workers_changed, self._client_changed))
            await self._apply_scaling(self.spec.scaling)
            await self.backend.submitted(self.cluster)
            address, link = self.backend.addresses(self.cluster)
            fields: dict[str, Any] = {"scheduler_address": address}
            if not self.backend.private_cluster:
                # security and dashboard are the scheduler's own (an adopted one), not the
                # launcher's: the supervisor learns them from here, never from the scheduler
                security = self.backend.client_security(self.cluster)
                fields.update(dashboard_link=link, client_security=security)
            # what was said while starting is done with; from now on messages are notices
            await self._update(state="running", messages=[], **fields)
        except Exception as exc:
            log.warning("The cluster failed to start", exc_info=True)
            await self._update(state="failed", error=_reason(exc))
            await self.close()

    def _make_local_dirs(self) -> None:
        """A private socket folder and scratch space, when the scheduler runs in this process
        (see ``private.make_scheduler_dirs``)."""
        if self.backend.private_cluster and self.backend.dashboard_on_this_machine:
            import dask

            scratch = dask.config.get("temporary-directory", None) is None
            socket, folders = make_scheduler_dirs(scratch)
            self.dashboard_socket, self.local_dirs = str(socket), [str(f) for f in folders]
            if scratch:  # the scheduler, nannies and (through them) local worker processes
                dask.config.set({"temporary-directory": self.local_dirs[-1]})

    def _keep_http_private(self) -> None:
        """No HTTP server of this process listens on TCP; the scheduler's serves the private
        socket (checked again: a folder of this user's, not a link, 0700)."""
        from .private_http import serve_scheduler_http_on

        if self._no_local_dirs is not None:
            raise self._no_local_dirs
        if self.dashboard_socket is not None:
            check_private_folder(Path(self.dashboard_socket).parent)
        serve_scheduler_http_on(self.dashboard_socket)

    def _progress(self, message: str) -> None:
        if message and message not in self.model.fields["messages"]:
            self._set_messages([*self.model.fields["messages"], message])

    def _set_messages(self, messages: list[str]) -> None:
        """From a callback: the model's messages (the last 10) once the host gets to it."""
        update = asyncio.ensure_future(self._update(messages=messages[-10:]))
        self._pending.add(update)
        update.add_done_callback(self._pending.discard)

    def _client_changed(self, client: str, versions: Any) -> None:
        """While a client with other versions than the cluster's is connected, the card says
        so (a notebook on another kernel: ``KilledWorker`` and pickling errors come next)."""
        old = self._client_notices.pop(client, None)
        notice = client_notice(self.model.fields["versions"], versions) if versions else None
        if notice:
            self._client_notices[client] = notice
        messages = list(self.model.fields["messages"])
        if old and old not in self._client_notices.values():
            messages = [message for message in messages if message != old]
        if notice and notice not in messages:
            messages.append(notice)
        if messages != self.model.fields["messages"]:
            self._set_messages(messages)

    async def _apply_scaling(self, scaling: dict[str, Any]) -> None:
        if "adapt" in scaling:
            adapt = scaling["adapt"]
            await self.backend.adapt(self.cluster, adapt["minimum"], adapt["maximum"])
        else:
            await self.backend.scale(self.cluster, scaling["workers"])

    @property
    def state(self) -> str:
        return str(self.model.fields["state"])

    async def _update(self, workers: list[Row] | None = None, **fields: Any) -> None:
        """Change fields and (given) the whole set of workers: only what differs gets a new
        version, and watchers wake only when something does.

        It never waits: the model changes at once and every waiting watcher is woken. (With a
        lock shared with the watchers, a change waited 0.3-3 s for a woken watcher to answer
        while 64 batch workers started on 2 cores, each turn of the event loop being slow then,
        and held up the next look at the scheduler's workers.)"""
        if self.model.update(fields, workers):
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def _watch_workers(self) -> None:
        loop = asyncio.get_running_loop()
        last_event = -math.inf
        last_view: tuple[Any, ...] | None = None
        while True:
            recent = loop.time() - last_event < FOLLOW_UP_FOR
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    self._workers_changed.wait(),
                    FOLLOW_UP_SECONDS if recent else WORKER_POLL_SECONDS,
                )
            if self._workers_changed.is_set():
                last_event = loop.time()
            self._workers_changed.clear()
            if self.state != "running" or self.cluster is None:
                continue
            reason = self.backend.lost(self.cluster)
            if reason:
                await self._update(state="failed", error=reason, workers=[])
                await self.close()
                return
            with contextlib.suppress(Exception):
                view = self._scheduler_view()
                before: dict[str, Row] | None = None
                if view is None or view != last_view:
                    # rows are built only when the scheduler's workers changed (at 400 workers
                    # the backend's rows take tens of ms; the view a fraction of one)
                    before = dict(self.model.workers.rows)
                    await self._update(workers=await self.backend.workers(self.cluster))
                    last_view = view
                    if before.keys() == self.model.workers.rows.keys():
                        before = None  # the same workers: none ended, none joined
                await self._keep_fixed_size(before)

    def _scheduler_view(self) -> tuple[Any, ...] | None:
        """What the workers' rows are made of, read cheaply from a scheduler in this process
        (one tuple per worker); None when the backend reads its workers another way (a remote
        scheduler, its own ``workers``): then it is asked every time."""
        if type(self.backend).workers is not Backend.workers:
            return None
        workers = getattr(getattr(self.cluster, "scheduler", None), "workers", None)
        if not isinstance(workers, Mapping):
            return None
        # the address determines the host; a worker's job does not change while it runs
        return tuple(
            (ws.address, ws.name, ws.nthreads, ws.memory_limit, ws.status)
            for ws in workers.values()
        )

    async def _keep_fixed_size(self, before: dict[str, Row] | None) -> None:
        """A fixed-size cluster whose worker ended (its job hit the walltime or was cancelled)
        asks for a new one; adaptive scaling does this by itself. ``before``: the workers
        before their set changed (None: it did not)."""
        scaling = self.model.fields["scaling"]
        if "workers" not in scaling:
            return
        running = self.model.workers.rows
        replacing = [m for m in self.model.fields["messages"] if m.endswith("; replacing")]
        if replacing and len(running) >= scaling["workers"]:
            messages = [
                m.removesuffix("; replacing") + "; replaced" if m in replacing else m
                for m in self.model.fields["messages"]
            ]
            await self._update(messages=messages)
        ended: set[str] = set()
        if before is not None:
            ended = self.backend.forget_ended_workers(self.cluster, set(running), self._seen_specs)
        if before is not None and ended:
            jobs = {w.get("job_id") for name, w in before.items() if name not in running}
            what = ", ".join(sorted(filter(None, jobs))) or ", ".join(sorted(ended))
            message = f"{len(running)} of {scaling['workers']} workers: {what} ended; replacing"
            await self._update(messages=[*self.model.fields["messages"], message][-10:])
            await self.backend.scale(self.cluster, scaling["workers"])
            self._last_scaled = time.monotonic()
        elif (
            len(running) < scaling["workers"]
            and time.monotonic() - self._last_scaled > RESCALE_SECONDS
        ):
            # a replacement that did not reach the queue (a busy batch controller, a job that
            # ended while it was being replaced) is not retried by the cluster itself: ask again
            self._last_scaled = time.monotonic()
            await self.backend.scale(self.cluster, scaling["workers"])


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "the cluster did not start in time"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
