"""Dask Gateway (as QHub / Nebari hubs run it): clusters from the user's gateway, with the
options its administrator offers.

Configured as hubs configure their users' notebooks: dask's own ``gateway.*`` config
(``/etc/dask/gateway.yaml``, ``DASK_GATEWAY__ADDRESS``, ``__PROXY_ADDRESS``,
``__PUBLIC_ADDRESS``, ``__AUTH__TYPE``, ``__AUTH__KWARGS__*``), each overridable by a server
setting. Every call goes through dask_gateway's asynchronous client (``Gateway(asynchronous=
True)``) on the server's event loop, with a timeout: a gateway that is down blocks nothing.

The form is the gateway's ``cluster_options()``, read live (cached a few seconds) and turned
into JSON Schema; launches are validated against that live schema by the same validator as
every other form. Workers are read from the scheduler (``identity``, over the gateway's TLS
proxy with the cluster's credentials) twice a second at most; the launcher never subscribes to
the scheduler's worker updates, which would take them from a notebook's ``GatewayCluster``.
The user's clusters that this server did not start are found by ``discover``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import re
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

from ..errors import InvalidRequest, LauncherError
from ..private import ClusterFiles
from .base import Backend, Discovered, Progress, _schemas, _worker_row
from .gateway_form import options_schema

log = logging.getLogger(__name__)

#: Names the gateway gives its clusters (uuid hex); anything else is not taken in.
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}\Z")
#: ``GatewayCluster`` arguments that are not cluster options (used by the reproduce-in-code view).
_CONNECTION = ("address", "proxy_address", "public_address", "auth")


class GatewayError(LauncherError):
    """The gateway refused a call (its message), or could not be reached."""

    status = 502


class GatewayTimeout(GatewayError):
    status = 504


@dataclass
class GatewayHandle:
    """A gateway cluster this backend handles: launched here, or discovered."""

    name: str
    scheduler_address: str | None = None
    dashboard_link: str | None = None
    #: ``distributed.core.rpc`` to its scheduler, through the gateway's proxy (TLS)
    rpc: Any = None
    connected_at: float = math.inf
    gone: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    refreshed: float = -math.inf
    refreshing: asyncio.Future[Any] | None = None


class GatewayBackend(Backend):
    name = "gateway"
    title = "Dask Gateway"
    schema_file = "backends/gateway.yaml"
    cluster_class_path = "dask_gateway.GatewayCluster"
    dashboard_on_this_machine = False  # the gateway serves (and proxies) its own dashboards
    private_cluster = False  # the gateway issues each cluster's TLS credentials
    options_cache_seconds = 10.0
    workers_refresh_seconds = 0.5

    def __init__(
        self,
        address: str = "",
        proxy_address: str = "",
        public_address: str = "",
        auth: str = "",
        auth_kwargs: dict[str, Any] | None = None,
        *,
        call_timeout: float = 30.0,
    ) -> None:
        self._settings = {
            "address": address,
            "proxy-address": proxy_address,
            "public-address": public_address,
            "auth.type": auth,
        }
        self._auth_kwargs = dict(auth_kwargs or {})
        self.call_timeout = call_timeout
        self._client: tuple[Any, Any] | None = None  # (settings it was made with, Gateway)
        self._options: tuple[Any, float, list[Any]] | None = None  # (settings, when, fields)
        self._options_lock = asyncio.Lock()
        self._handles: dict[str, GatewayHandle] = {}
        self._released: set[str] = set()  # stopped or let go: never discovered again
        self._cleanups: set[asyncio.Future[Any]] = set()  # stops of cancelled starts

    # --- configuration ------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """address, proxy_address, public_address, auth: server settings, else dask config."""
        import dask

        def get(key: str) -> Any:
            value = self._settings[key] or dask.config.get(f"gateway.{key}", None)
            if isinstance(value, str):
                from dask_gateway.utils import format_template

                value = format_template(value)
            return value or None

        return {
            "address": get("address"),
            "proxy_address": get("proxy-address"),
            "public_address": get("public-address"),
            "auth": get("auth.type") or "basic",
        }

    def unavailable_reason(self) -> str | None:
        try:
            import dask_gateway  # noqa: F401
        except ImportError:
            return "dask-gateway is not installed in the Jupyter server's environment"
        if not self.settings()["address"]:
            return (
                "no Dask Gateway address: set gateway.address in the dask config "
                "(/etc/dask/gateway.yaml, DASK_GATEWAY__ADDRESS) or "
                "ClusterLauncherApp.gateway_address"
            )
        return None

    def _auth(self, kind: str) -> Any:
        """dask_gateway's auth of that type, with the configured keyword arguments (the
        server setting's, else ``gateway.auth.kwargs``); they stay in this process."""
        import dask
        from dask_gateway.auth import get_auth

        if not self._auth_kwargs:
            return get_auth(kind)
        with dask.config.set({"gateway.auth.kwargs": self._auth_kwargs}):
            return get_auth(kind)

    async def _gateway(self) -> Any:
        """One asynchronous ``Gateway`` client (its session keeps the gateway's login
        cookie), made again when the configuration changed."""
        import dask
        from dask_gateway import Gateway

        settings = self.settings()
        key = (settings, repr(self._auth_kwargs or dask.config.get("gateway.auth.kwargs", {})))
        if self._client is not None and self._client[0] == key:
            return self._client[1]
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client[1].close()
        gateway = Gateway(
            settings["address"],
            proxy_address=settings["proxy_address"],
            public_address=settings["public_address"],
            auth=self._auth(settings["auth"]),
            asynchronous=True,
        )
        self._client = (key, gateway)
        return gateway

    async def _call(self, what: str, call: Any, timeout: float | None = None) -> Any:
        """Await one of dask_gateway's coroutines, bounded by ``call_timeout``."""
        timeout = self.call_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(call, timeout)
        except asyncio.TimeoutError:
            message = f"the gateway did not answer ({what}) within {timeout:g} s"
            raise GatewayTimeout(message) from None
        except LauncherError:
            raise
        except Exception as exc:
            message = str(exc).strip() or type(exc).__name__
            raise GatewayError(f"Dask Gateway ({what}): {message}") from exc

    # --- the form: the gateway's options ------------------------------------------------------
    async def option_fields(self) -> list[Any]:
        """The gateway's option fields (dask_gateway ``Field`` objects with the dask config's
        ``gateway.cluster.options`` as defaults), read at most every few seconds."""
        async with self._options_lock:
            settings = self.settings()
            cached = self._options
            fresh = cached and time.monotonic() - cached[1] < self.options_cache_seconds
            if cached and fresh and cached[0] == settings:
                return cached[2]
            gateway = await self._gateway()
            options = await self._call("cluster options", gateway.cluster_options())
            # Options keeps its typed fields privately; they carry type, bounds and label
            fields = list(options._fields.values())
            self._options = (settings, time.monotonic(), fields)
            return fields

    async def live_schema(self) -> dict[str, Any]:
        """This form with the gateway's options as its fields; raises GatewayError when the
        gateway cannot be asked."""
        return options_schema(self.static_schema(), await self.option_fields())

    async def form_schema(self) -> dict[str, Any]:
        if self.unavailable_reason():
            return self.static_schema()
        try:
            return await self.live_schema()
        except GatewayError as exc:
            schema = self.static_schema()
            schema["description"] += f" Could not read the gateway's options: {exc}"
            return schema

    async def describe(self) -> dict[str, Any]:
        described = await super().describe()
        properties = described["schema"].get("properties", {})
        described["defaults"] = {k: v["default"] for k, v in properties.items() if "default" in v}
        return described

    async def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        """Checked against the gateway's live form, by the validator of every form."""
        from jsonschema.exceptions import best_match

        schemas = _schemas()
        schema = await self.live_schema()

        def first_error() -> Any:
            schemas.check_depth(options, "options")
            return best_match(schemas.Validator(schema).iter_errors(options))

        # in a thread, as every form's validation: a hostile body must not hold the event loop
        error = await asyncio.to_thread(first_error)
        if error is not None:
            path = schemas.field_path(error, "options")
            raise InvalidRequest(f"{path}: {schemas._describe(error)}", field=path)
        defaults = {k: v["default"] for k, v in schema["properties"].items() if "default" in v}
        return {**defaults, **options}

    # --- building the cluster -----------------------------------------------------------------
    def cluster_class(self) -> type:
        from dask_gateway import GatewayCluster

        return GatewayCluster

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        """``GatewayCluster`` arguments: where the gateway is and the auth type (never its
        credentials), then the cluster options."""
        connection = {k: v for k, v in self.settings().items() if v is not None}
        return {**connection, **options}

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(
        self,
        kwargs: dict[str, Any],
        progress: Progress | None = None,
        files: ClusterFiles | None = None,
    ) -> GatewayHandle:
        """Submit, then wait until the gateway runs its scheduler; a start that fails or is
        cancelled (the manager's start timeout, a stop) stops the cluster on the gateway."""
        gateway = await self._gateway()
        options = {k: v for k, v in kwargs.items() if k not in _CONNECTION}
        submit = asyncio.ensure_future(self._call("submit", gateway.submit(**options)))
        try:
            name = await asyncio.shield(submit)
        except asyncio.CancelledError:  # the gateway may create it all the same: stop it then
            self._cleanups.add(asyncio.ensure_future(self._stop_submitted(submit)))
            raise
        handle = self._handles[name] = GatewayHandle(name)  # before discovery can see it
        if progress is not None:
            progress(f"Submitted to the gateway as {name}; waiting for its scheduler")
        try:
            await self._wait_running(gateway, handle)
            await self._connect(gateway, handle)
        except BaseException:
            await asyncio.shield(self._stop(handle))
            raise
        return handle

    async def _stop_submitted(self, submit: asyncio.Future[Any]) -> None:
        with contextlib.suppress(Exception):
            name = await submit
            self._handles[name] = handle = GatewayHandle(name)
            await self._stop(handle)
        self._cleanups.discard(asyncio.current_task())

    async def _wait_running(self, gateway: Any, handle: GatewayHandle) -> None:
        from dask_gateway.client import ClusterStatus

        while True:
            # long poll: the gateway answers when the cluster is ready, or after 20 s
            wait = gateway.get_cluster(handle.name, wait=True)
            report = await self._call("cluster status", wait, self.call_timeout + 20)
            if report.status == ClusterStatus.RUNNING:
                return
            if report.status not in (ClusterStatus.PENDING, ClusterStatus.RUNNING):
                raise GatewayError(
                    f"the gateway's cluster {handle.name} {report.status.name.lower()} while "
                    "starting (the gateway's log says why)"
                )
            await asyncio.sleep(0.5)

    async def _connect(self, gateway: Any, handle: GatewayHandle) -> None:
        """Addresses and an RPC to the scheduler, with the credentials the gateway issued."""
        from distributed.core import rpc

        report = await self._call("cluster report", gateway.get_cluster(handle.name))
        security = report.security
        handle.scheduler_address = report.scheduler_address
        handle.dashboard_link = report.dashboard_link
        handle.rpc = rpc(
            report.scheduler_address,
            connection_args=security.get_connection_args("client") if security else {},
            timeout=self.call_timeout,
        )
        handle.connected_at = time.monotonic()

    async def scale(self, cluster: GatewayHandle, n: int) -> None:
        # the gateway turns adaptive scaling off when asked for a size
        gateway = await self._gateway()
        await self._call("scale", gateway.scale_cluster(cluster.name, n))

    async def adapt(self, cluster: GatewayHandle, minimum: int, maximum: int) -> None:
        gateway = await self._gateway()
        adapt = gateway.adapt_cluster(cluster.name, minimum=minimum, maximum=maximum)
        await self._call("adapt", adapt)

    async def close(self, cluster: GatewayHandle) -> None:
        await self._stop(cluster)

    async def _stop(self, handle: GatewayHandle) -> None:
        await self._forget(handle)
        try:
            gateway = await self._gateway()
            await self._call("stop", gateway.stop_cluster(handle.name))
        except BaseException:
            self._released.discard(handle.name)  # still there: discovery shows it again
            raise

    async def disconnect(self, cluster: GatewayHandle) -> None:
        await self._forget(cluster)

    async def close_connections(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client[1].close()

    async def _forget(self, handle: GatewayHandle) -> None:
        self._handles.pop(handle.name, None)
        self._released.add(handle.name)
        if handle.refreshing is not None:
            handle.refreshing.cancel()
        if handle.rpc is not None:
            with contextlib.suppress(Exception):
                await handle.rpc.close_rpc()

    # --- watching -----------------------------------------------------------------------------
    def lost(self, cluster: GatewayHandle) -> str | None:
        return cluster.gone

    def addresses(self, cluster: GatewayHandle) -> tuple[str | None, str | None]:
        return cluster.scheduler_address, cluster.dashboard_link

    async def workers(self, cluster: GatewayHandle) -> list[dict[str, Any]]:
        """The rows last read from the scheduler; refreshed in the background at most every
        ``workers_refresh_seconds``, one call in flight per cluster."""
        now = time.monotonic()
        due = now - cluster.refreshed >= self.workers_refresh_seconds
        if cluster.rpc is not None and cluster.refreshing is None and due:
            cluster.refreshed = now
            identity = asyncio.wait_for(cluster.rpc.identity(), self.call_timeout)
            task = asyncio.ensure_future(identity)
            task.add_done_callback(functools.partial(_refreshed, cluster))
            cluster.refreshing = task
            await asyncio.wait({task}, timeout=0.1)  # a prompt answer shows in this poll
        return list(cluster.rows)

    def client_code(self, cluster: GatewayHandle, cluster_name: str) -> str:
        """``Gateway(...).connect(name).get_client()``: the notebook logs in with its own dask
        config's credentials and receives the cluster's TLS credentials from the gateway."""
        connection = {k: v for k, v in self.settings().items() if v is not None}
        arguments = "".join(f"    {key}={value!r},\n" for key, value in connection.items())
        return (
            f"# Dask Gateway cluster {cluster_name!r}\n"
            "from dask_gateway import Gateway\n\n"
            "# logs in with your dask config's gateway.auth.kwargs, as Gateway() does\n"
            f"gateway = Gateway(\n{arguments})\n"
            f"cluster = gateway.connect({cluster.name!r})  # stays up when this notebook ends\n"
            "client = cluster.get_client()\n"
            "client\n"
        )

    # --- clusters this server did not start -----------------------------------------------------
    async def discover(self) -> list[Discovered]:
        """The user's running gateway clusters this backend does not handle yet; the ones it
        handles that the gateway no longer lists are marked lost."""
        from dask_gateway.client import ClusterStatus

        if self.unavailable_reason():
            return []
        gateway = await self._gateway()
        asked = time.monotonic()
        reports = await self._call("list clusters", gateway.list_clusters())
        listed = {report.name for report in reports}
        for handle in self._handles.values():
            if handle.name not in listed and handle.connected_at < asked and not handle.gone:
                handle.gone = "the cluster was stopped on the gateway, outside the launcher"
        found = []
        for report in reports:
            name = report.name
            taken = name in self._handles or name in self._released
            if taken or report.status != ClusterStatus.RUNNING or not _NAME.match(name):
                continue
            handle = self._handles[name] = GatewayHandle(name)
            try:
                await self._connect(gateway, handle)
                info = await self._call("workers", handle.rpc.identity())
            except Exception as exc:
                log.info("Could not connect to gateway cluster %s: %s", name, exc)
                self._handles.pop(name, None)
                if handle.rpc is not None:
                    await handle.rpc.close_rpc()
                continue
            handle.rows = _worker_rows(info)
            started = report.start_time.astimezone(timezone.utc).isoformat()
            found.append(
                Discovered(
                    key=name,
                    name=name,
                    cluster=handle,
                    options=dict(report.options or {}),
                    scaling={"workers": len(handle.rows)},
                    created=started,
                )
            )
        return found


def _worker_rows(info: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [
        _worker_row(a, w.get("name", a), w.get("host", ""), w.get("nthreads", 0),
                    w.get("memory_limit", 0), w.get("status", "running"))
        for a, w in dict(info.get("workers", {})).items()
    ]  # fmt: skip
    return sorted(rows, key=lambda row: row["address"])


def _refreshed(handle: GatewayHandle, task: asyncio.Future[Any]) -> None:
    handle.refreshing = None
    if task.cancelled():
        return
    if task.exception() is not None:
        log.debug("Reading the workers of gateway cluster %s failed", handle.name)
        return
    handle.rows = _worker_rows(task.result())
