"""A cluster object for Python whose cluster runs in a host process (see ``host``).

``make_cluster`` returns a ``HostedCluster``: a ``distributed.deploy.Cluster`` like
``LocalCluster`` or ``SLURMCluster`` (``Client(cluster)``, ``scale``, ``adapt``, ``close``, the
notebook widget), but the cluster object itself, its scheduler and its batch jobs live in the
host process the sidebar's clusters live in. So the user's Jupyter server shows it in the
sidebar, where it can be scaled and stopped too: this object follows the host (scaling and
workers changed there show here, and a stop there closes it).

Hosts are child processes of this process, spawned and talked to from one long-lived event loop
of the launcher's (``on_launcher_loop``); the cluster object keeps distributed's own loop for
its scheduler connection, as every ``Cluster`` does.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import threading
import weakref
from collections.abc import Coroutine
from typing import Any

from distributed.core import Status, rpc
from distributed.deploy.cluster import Cluster

from ..backends import Backend
from ..launched import private_dashboard_url
from ..limits import Limits
from ..private import ClusterFiles
from ..requests import check_scaling
from .processes import HostGone, HostProcess

# --- the launcher's own event loop ------------------------------------------------------------
# Hosts are child processes of this one. They are spawned from one long-lived loop, not from a
# loop per call: asyncio reaps a child only through a running loop (an exited host would stay a
# zombie, alive to everyone polling its pid), and it kills a still-running child when the
# transport of a closed loop is collected (Python 3.12+ watches children through the loop).
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def launcher_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(
                target=_loop.run_forever, name="dask-cluster-launcher", daemon=True
            ).start()
        return _loop


def on_launcher_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` on the launcher's loop and wait for it (from any thread or notebook);
    an interrupt cancels it, which stops what it started."""
    future = asyncio.run_coroutine_threadsafe(coroutine, launcher_loop())
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


async def awaiting_launcher_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``await`` ``coroutine`` run on the launcher's loop, from another running loop."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, launcher_loop()))


# --- the cluster object ------------------------------------------------------------------------
#: Open clusters, closed when Python exits (as distributed closes its own clusters): a cluster
#: made in a notebook ends with its kernel unless the sidebar has it stopped before.
_open: weakref.WeakSet[HostedCluster] = weakref.WeakSet()


class HostedCluster(Cluster):
    """A Dask cluster in a host process of its own, shown in the user's Jupyter sidebar.

    ``Client(cluster)`` connects over TLS with the cluster's credentials (``security``).
    ``scale(n)`` and ``adapt(minimum=, maximum=)`` ask the host, which applies them to the
    real cluster object (``LocalCluster``, ``SLURMCluster``, ...) with the same checks and site
    limits as the sidebar; ``close()`` stops the cluster, cancels its batch jobs and ends the
    host. ``scaling`` and the workers follow what the host reports, whoever changed them.
    """

    def __init__(
        self,
        host: HostProcess,
        *,
        cluster_id: str,
        name: str,
        backend: Backend,
        kwargs: dict[str, Any],
        limits: Limits | None = None,
        asynchronous: bool = False,
        loop: Any = None,
    ) -> None:
        self.cluster_id = cluster_id
        self.files: ClusterFiles = host.files
        #: Every peer needs the cluster's certificate (mutual TLS): ``Client(cluster)`` uses it.
        self.security = self.files.security()
        self._host = host
        self._backend = backend
        self._kwargs = kwargs
        self._limits = limits or Limits()
        self._follower: concurrent.futures.Future[None] | None = None
        super().__init__(asynchronous=asynchronous, loop=loop, name=name)
        self._cluster_info["cluster_id"] = cluster_id
        self.scheduler_comm = rpc(
            host.mirror.fields["scheduler_address"],
            connection_args=self.security.get_connection_args("client"),
        )
        self._loop_runner.start()
        _open.add(self)
        if not self.asynchronous:
            self.sync(self._start)

    # --- what it is ---------------------------------------------------------------------------
    @property
    def _fields(self) -> dict[str, Any]:
        """The host's model as last reported (kept on the launcher's loop)."""
        return self._host.mirror.fields

    @property
    def scaling(self) -> dict[str, Any]:
        """``{"workers": n}`` or ``{"adapt": {"minimum": a, "maximum": b}}``, as last applied
        (here, in the sidebar or through the REST API)."""
        return dict(self._fields["scaling"])

    @property
    def state(self) -> str:
        """The host's state of the cluster: ``running``, then ``stopping`` / ``stopped``, or
        ``failed`` (see ``error``)."""
        return str(self._fields["state"])

    @property
    def error(self) -> str | None:
        return self._fields.get("error")

    @property
    def versions(self) -> dict[str, str]:
        """The versions of Python, dask, distributed, ... the cluster runs."""
        return dict(self._fields.get("versions") or {})

    @property
    def dashboard_link(self) -> str:
        """The dashboard, served by the user's Jupyter server from the cluster's private
        socket (a path on the Jupyter server's address; behind JupyterHub, under the user's
        prefix). It has no TCP port of its own."""
        base_url = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
        return private_dashboard_url(base_url, self.cluster_id)

    def job_script(self) -> str | None:
        """The batch job script each worker job runs (batch backends), as the host submits it."""
        return self._backend.job_script(self._backend.with_credentials(self._kwargs, self.files))

    def _scaling_status(self) -> str:
        scaling = self._fields["scaling"]
        workers = len(self.scheduler_info["workers"])
        if "adapt" in scaling:
            mode = "Adaptive"
            requested = f"{scaling['adapt']['minimum']} to {scaling['adapt']['maximum']}"
        else:
            mode, requested = "Manual", str(scaling["workers"])
        count = str(workers) if requested == str(workers) else f"{workers} / {requested}"
        return (
            "<table>"
            f'<tr><td style="text-align: left;">Scaling mode: {mode}</td></tr>'
            f'<tr><td style="text-align: left;">Workers: {count}</td></tr>'
            "</table>"
        )

    def _repr_html_(self, cluster_status: str | None = None) -> str:
        if cluster_status is None:
            cluster_status = self._scaling_status()
        return str(super()._repr_html_(cluster_status=cluster_status))

    # --- changing it ----------------------------------------------------------------------------
    def scale(self, n: int = 0) -> Any:
        """Scale to ``n`` workers (adaptive scaling, if on, stops)."""
        return self.sync(self._rescale, {"workers": int(n)})

    def adapt(  # type: ignore[override]
        self, minimum: int = 0, maximum: int | None = None, **kwargs: Any
    ) -> Any:
        """Adapt between ``minimum`` and ``maximum`` workers (distributed's ``Adaptive``, run
        by the host with its defaults)."""
        if kwargs:
            raise TypeError(f"adapt() takes minimum and maximum only, not {sorted(kwargs)}")
        if maximum is None:
            raise ValueError("adapt() needs a maximum number of workers")
        scaling = {"adapt": {"minimum": int(minimum), "maximum": int(maximum)}}
        return self.sync(self._rescale, scaling)

    async def _rescale(self, scaling: dict[str, Any]) -> None:
        # the checks of the sidebar's scaling (InvalidRequest naming the field)
        check_scaling(scaling, "")
        self._backend.check_scaling(scaling, "")
        self._limits.check_scaling(scaling, "")
        if self.status != Status.running:
            raise RuntimeError(f"the cluster is {self.status.name}")
        await awaiting_launcher_loop(self._rescale_host(scaling))

    async def _rescale_host(self, scaling: dict[str, Any]) -> None:
        """(On the launcher's loop, where the host's model is kept: its next change brings
        the same scaling a moment later.)"""
        await self._host.rescale(scaling)
        mirror = self._host.mirror
        mirror.fields = {**mirror.fields, "scaling": scaling}

    # --- life cycle -----------------------------------------------------------------------------
    async def _start(self) -> None:
        mine = dict(self._cluster_info)
        await super()._start()  # reads the host's cluster info from the scheduler: keep ours
        self._cluster_info.update(mine)
        self._follower = asyncio.run_coroutine_threadsafe(self._follow(), launcher_loop())

    async def _sync_cluster_info(self) -> None:
        """The scheduler's ``cluster-manager-info`` is the host's cluster's to keep."""

    async def _follow(self) -> None:
        """(On the launcher's loop.) Watch the host, as the Jupyter server does: what changed
        there shows here; a cluster stopped there (or failed) closes this object. A host that
        is watched does not stop itself for want of a supervisor."""
        while True:
            try:
                await self._host.changes(timeout=30.0)
            except HostGone:
                if await self._host.exited(0.5):
                    break
                continue
            if self._fields.get("state") not in ("starting", "running"):
                break
        loop = self.loop
        if self.status == Status.running and loop is not None:
            loop.add_callback(self._close)

    async def _stop_host(self) -> None:
        """(On the launcher's loop.) Stop the cluster, its jobs and the host."""
        if self._follower is not None:
            self._follower.cancel()
        if not await self._host.exited(0):  # (stopped in the sidebar: it is on its way out)
            await self._host.stop()
        await self._host.disconnect()

    async def _close(self) -> None:
        if self.status in (Status.closed, Status.closing):
            return
        self.status = Status.closing
        try:
            await awaiting_launcher_loop(self._stop_host())
        finally:
            await super()._close()  # the scheduler connections
            _open.discard(self)

    def __await__(self) -> Any:
        async def started() -> HostedCluster:
            if self.status == Status.created:
                await self._start()
            return self

        return started().__await__()


@atexit.register
def _close_open_clusters() -> None:
    for cluster in list(_open):
        if cluster.status not in (Status.closed, Status.closing) and not cluster.asynchronous:
            with contextlib.suppress(Exception):
                cluster.close(timeout=30)
