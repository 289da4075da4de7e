"""Saturn Cloud: dask_saturn.SaturnCluster, with the sizes Saturn's API offers.

dask_saturn makes blocking ``requests`` calls without timeouts (SaturnCluster is a sync object),
so every call runs in a daemon thread of its own, awaited with a timeout: a stalled Saturn API
blocks neither the event loop nor the server's exit; a hung thread may linger, nothing else.
dask_saturn reads its settings from the environment only (``SATURN_BASE_URL``, ``SATURN_TOKEN``,
``SATURN_IS_INTERNAL``). Credentials configured on the extension are handed to dask_saturn's
``Settings`` in this process and never written to ``os.environ``, where every kernel, terminal
and batch job started later would inherit them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..errors import LauncherError
from ..private import ClusterFiles
from .base import Backend, Progress, _worker_row, require

log = logging.getLogger(__name__)
T = TypeVar("T")

_SECURITY_FIELDS = ("tls_ca_file", "tls_client_cert", "tls_client_key")


def _use_credentials(credentials: Callable[[], tuple[str, str]]) -> None:
    """Give dask_saturn's ``Settings`` (read by SaturnCluster and its helpers at every call)
    the configured base URL and token instead of the environment's, in this process only."""
    import dask_saturn.core
    from dask_saturn.settings import Settings
    from packaging.version import Version

    class ConfiguredSettings(Settings):
        def __init__(self) -> None:  # Settings.__init__ reads os.environ; set the same fields
            self.SATURN_BASE_URL, self.SATURN_TOKEN = credentials()
            version = os.environ.get("SATURN_VERSION", "2021.07.19")
            self.SATURN_VERSION = Version(version.split("-")[0])

    dask_saturn.core.Settings = ConfiguredSettings


class SaturnCloudError(LauncherError):
    """Saturn Cloud refused a call (its message), or could not be reached."""

    status = 502


class SaturnTimeout(SaturnCloudError):
    """Saturn Cloud did not answer a call in time."""

    status = 504


@dataclass
class _Watched:
    """A cluster this backend started and its workers as last read from Saturn."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    refreshed: float = -math.inf
    refreshing: asyncio.Future[Any] | None = None


@functools.cache
def _cluster_class() -> type:
    from dask_saturn import SaturnCluster

    class LauncherSaturnCluster(SaturnCluster):
        """SaturnCluster that closes what it created when its start fails, and never calls
        Saturn from ``__del__``."""

        def __init__(self, **kwargs: Any) -> None:
            try:
                super().__init__(**kwargs)
            except BaseException:
                if getattr(self, "cluster_url", None):  # created on Saturn, failed afterwards
                    with contextlib.suppress(Exception):
                        SaturnCluster.close(self)
                raise

        def __del__(self) -> None:
            # Cluster.__del__ reads ``status``: a blocking HTTP call on whatever thread
            # collects the object, possibly the server's event loop.
            pass

    return LauncherSaturnCluster


class _ThreadLogRelay(logging.Handler):
    """Hands dask_saturn's messages from one thread (its status while the cluster comes up,
    Saturn's warnings) to the event loop."""

    def __init__(self, progress: Progress, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self._thread = threading.get_ident()
        self._progress, self._loop = progress, loop

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                self._loop.call_soon_threadsafe(self._progress, record.getMessage())


@contextlib.contextmanager
def _relayed_log(progress: Progress | None, loop: asyncio.AbstractEventLoop) -> Any:
    if progress is None:
        yield
        return
    saturn_log = logging.getLogger("dask-saturn")
    relay = _ThreadLogRelay(progress, loop)
    old_level = saturn_log.level
    saturn_log.addHandler(relay)
    if saturn_log.getEffectiveLevel() > logging.INFO:
        saturn_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        saturn_log.removeHandler(relay)
        saturn_log.setLevel(old_level)


def _describe_sizes() -> dict[str, str]:
    from dask_saturn import describe_sizes

    return dict(describe_sizes())


def _close_abandoned(cluster: Any) -> None:
    """A cluster whose start finished after the launcher gave up on it: close it on Saturn."""
    try:
        cluster.close()
    except Exception:
        log.warning("Closing an abandoned Saturn cluster failed", exc_info=True)


def _worker_rows(info: Any) -> list[dict[str, Any]]:
    """Rows from ``scheduler_info`` (the scheduler's identity, as Saturn relays it)."""
    workers = dict(info.get("workers", {}))
    rows = [
        _worker_row(a, w.get("name", a), w.get("host", ""), w.get("nthreads", 0),
                    w.get("memory_limit", 0), w.get("status", "running"))
        for a, w in workers.items()
    ]  # fmt: skip
    return sorted(rows, key=lambda row: row["address"])


class SaturnBackend(Backend):
    name = "saturn"
    title = "Saturn Cloud"
    schema_file = "backends/saturn.yaml"
    cluster_class_path = "dask_saturn.SaturnCluster"
    dashboard_on_this_machine = False
    private_cluster = False  # Saturn issues its own TLS credentials
    sizes_cache_seconds = 10.0
    #: At most one ``scheduler_info`` call per cluster this often (the manager polls faster).
    workers_refresh_seconds = 0.5

    def __init__(
        self, base_url: str = "", token: str = "", *, call_timeout: float = 30.0,
        start_timeout: float = 1200.0,
    ) -> None:  # fmt: skip
        self._base_url, self._token = base_url, token
        self.call_timeout, self.start_timeout = call_timeout, start_timeout
        self._sizes: dict[str, str] = {}
        self._sizes_error: str | None = None
        self._sizes_key: tuple[str, str] | None = None  # the credentials they were read with
        self._sizes_time = -math.inf
        self._sizes_lock = asyncio.Lock()
        self._watched: dict[str, _Watched] = {}  # by Saturn's cluster id
        self._starting = 0

    def lost(self, cluster: Any) -> str | None:
        return None  # SaturnCluster.status is a blocking HTTP call; Saturn reports via workers

    # --- credentials ------------------------------------------------------------------------
    def credentials(self) -> tuple[str, str]:
        """(base URL, token): the extension's config, else the server's environment."""
        return (
            self._base_url or os.environ.get("SATURN_BASE_URL", ""),
            self._token or os.environ.get("SATURN_TOKEN", ""),
        )

    def unavailable_reason(self) -> str | None:
        base_url, token = self.credentials()
        missing = [k for k, v in (("SATURN_BASE_URL", base_url), ("SATURN_TOKEN", token)) if not v]
        if missing:
            return (
                f"no Saturn Cloud credentials: set {' and '.join(missing)} in the Jupyter "
                "server's environment (or ClusterLauncherApp.saturn_base_url / saturn_token)"
            )
        parts = urlsplit(base_url)
        valid = parts.scheme and parts.netloc
        return None if valid else f"the Saturn Cloud base URL {base_url!r} is not a URL"

    def _export_credentials(self) -> None:
        """Make dask_saturn use this backend's credentials (see ``_use_credentials``)."""
        _use_credentials(self.credentials)

    # --- running dask_saturn off the event loop -------------------------------------------------
    async def _call(
        self,
        what: str,
        fn: Callable[[], T],
        timeout: float | None,
        on_abandoned: Callable[[T], Any] | None = None,
    ) -> T:
        """``fn()`` in a daemon thread, awaited at most ``timeout`` seconds (None: no limit).

        A result that arrives after the caller gave up (timeout, cancellation) is handed to
        ``on_abandoned`` in a thread, so a cluster created late is closed, not leaked.
        """
        self._export_credentials()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def abandon(result: Any) -> None:
            if on_abandoned is not None:
                threading.Thread(target=on_abandoned, args=(result,), daemon=True).start()

        def settle(result: Any, error: Exception | None) -> None:
            if future.cancelled():  # the caller gave up
                if error is None:
                    abandon(result)
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        def run() -> None:
            result, error = None, None
            try:
                result = fn()
            except Exception as exc:
                error = exc
            try:
                loop.call_soon_threadsafe(settle, result, error)
            except RuntimeError:  # the server's event loop is gone
                if error is None:
                    abandon(result)

        threading.Thread(target=run, name=f"saturn-{what}", daemon=True).start()
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            message = f"Saturn Cloud did not answer ({what}) within {timeout:g} s"
            raise SaturnTimeout(message) from None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                abandon(future.result())
            raise
        except Exception as exc:
            raise SaturnCloudError(str(exc).strip() or type(exc).__name__) from exc

    # --- the form -----------------------------------------------------------------------------
    async def sizes(self) -> dict[str, str]:
        """Saturn's sizes (name -> description), read at most every few seconds."""
        async with self._sizes_lock:
            key = self.credentials()
            stale = time.monotonic() - self._sizes_time > self.sizes_cache_seconds
            if stale or key != self._sizes_key:
                try:
                    sizes = await self._call("sizes", _describe_sizes, self.call_timeout)
                    self._sizes, self._sizes_error = sizes, None
                except Exception as exc:
                    self._sizes, self._sizes_error = {}, str(exc) or type(exc).__name__
                self._sizes_key, self._sizes_time = key, time.monotonic()
            return self._sizes

    async def form_schema(self) -> dict[str, Any]:
        schema = await super().form_schema()
        if self.unavailable_reason():
            return schema
        sizes = await self.sizes()
        for key in ("worker_size", "scheduler_size"):
            prop = schema["properties"][key]
            if sizes:
                prop["oneOf"] = [{"const": "", "title": "(project default)"}] + [
                    {"const": name, "title": f"{name}: {display}"}
                    for name, display in sizes.items()
                ]
            elif self._sizes_error:
                prop["description"] += f" Could not list them: {self._sizes_error}"
        return schema

    async def check_consistency(self, options: dict[str, Any]) -> None:
        if self.unavailable_reason():
            return
        sizes = await self.sizes()
        if not sizes:  # Saturn did not say; SaturnCluster checks again when it starts
            return
        for key in ("worker_size", "scheduler_size"):
            value = options.get(key) or ""
            require(
                not value or value in sizes,
                f"options.{key}",
                f"Saturn Cloud has no size {value!r} (it has {', '.join(sizes)})",
            )

    # --- building the cluster -----------------------------------------------------------------
    def cluster_class(self) -> type:
        return _cluster_class()

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        kwargs = {
            "worker_size": options.get("worker_size") or None,
            "scheduler_size": options.get("scheduler_size") or None,
            "worker_is_spot": options.get("worker_is_spot"),
            "nprocs": options.get("nprocs"),
            "nthreads": options.get("nthreads"),
        }
        return {key: value for key, value in kwargs.items() if value is not None}

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(
        self,
        kwargs: dict[str, Any],
        progress: Progress | None = None,
        files: ClusterFiles | None = None,
    ) -> Any:
        """Create the cluster on Saturn; the manager bounds this with its start timeout."""
        if self._watched or self._starting:
            raise RuntimeError(
                "Saturn Cloud runs one Dask cluster per resource, and this server has already "
                "launched it: stop that cluster first"
            )
        wait = max(1, int(self.start_timeout))

        loop = asyncio.get_running_loop()

        def create() -> Any:
            with _relayed_log(progress, loop):
                return _cluster_class()(scheduler_service_wait_timeout=wait, **kwargs)

        self._starting += 1
        try:
            cluster = await self._call("start", create, None, on_abandoned=_close_abandoned)
        finally:
            self._starting -= 1
        self._watched[cluster.dask_cluster_id] = _Watched()
        return cluster

    async def scale(self, cluster: Any, n: int) -> None:
        await self._call("scale", lambda: cluster.scale(n), self.call_timeout)

    async def adapt(self, cluster: Any, minimum: int, maximum: int) -> None:
        adapt = functools.partial(cluster.adapt, minimum=minimum, maximum=maximum)
        await self._call("adapt", adapt, self.call_timeout)

    async def close(self, cluster: Any) -> None:
        self._watched.pop(cluster.dask_cluster_id, None)
        await self._call("close", cluster.close, self.call_timeout)

    # --- watching -----------------------------------------------------------------------------
    async def workers(self, cluster: Any) -> list[dict[str, Any]]:
        """The rows last read from Saturn; refreshes in the background, at most every
        ``workers_refresh_seconds``, never more than one call in flight per cluster."""
        watched = self._watched.get(cluster.dask_cluster_id)
        if watched is None:
            return []
        now = time.monotonic()
        if watched.refreshing is None and now - watched.refreshed >= self.workers_refresh_seconds:
            watched.refreshed = now
            read = self._call(
                "scheduler_info", lambda: _worker_rows(cluster.scheduler_info), self.call_timeout
            )
            task = asyncio.ensure_future(read)
            task.add_done_callback(functools.partial(_refreshed, watched))
            watched.refreshing = task
            # a prompt answer shows in this poll; a slow one in a later poll
            await asyncio.wait({task}, timeout=0.1)
        return list(watched.rows)

    def client_security(self, cluster: Any) -> dict[str, str] | None:
        """External (TLS) mode: the inline PEM key, certificate and CA that dask_saturn got
        from Saturn's CSR endpoint; ``None`` in internal (tcp) mode."""
        security = getattr(cluster, "security", None)
        values = {name: getattr(security, name, None) for name in _SECURITY_FIELDS}
        if not all(isinstance(value, str) and value for value in values.values()):
            return None
        return {name: str(value) for name, value in values.items()}


def _refreshed(watched: _Watched, task: asyncio.Future[Any]) -> None:
    watched.refreshing = None
    if task.cancelled():
        return
    if task.exception() is not None:
        log.debug("Reading Saturn workers failed: %s", task.exception())
        return
    watched.rows = task.result()
