"""An existing Dask scheduler: one started elsewhere (``dask scheduler --scheduler-file``, a
dask-mpi job, a colleague's cluster), connected to by address or scheduler file.

The launcher owns nothing here: it watches the scheduler's workers, hands out the client code
and the dashboard link, and stopping only disconnects, unless the user asked for the scheduler
to be shut down. It cannot scale (the workers are started by whoever started them), so scaling
is refused with the reason.

Connecting trusts whoever runs the scheduler: Dask messages may carry pickles, which run code
when read. So the connection is made from a cluster host process of the launcher's
(``runs_in_host``), never in the Jupyter server: the server checks the options and reads
nothing the scheduler sends (the host sends it plain rows, strings and numbers). And a
scheduler file (or a CA certificate) is used only when no other user can have written or
replaced it (see ``trusted_files``). The dashboard gets a plain link to the scheduler's host,
never one through the Jupyter server, which would hand the user's cookies to that address.

Workers are watched by polling (the cheap ``ncores`` call twice a second; full identities only
when the set of workers changed), not with ``subscribe_worker_status``: the scheduler keeps one
such subscriber, and taking it over would blind the scheduler's own cluster manager
(a SpecCluster elsewhere whose workers we would steal the updates of).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import re
import ssl
import stat
import warnings
import weakref
from typing import Any

from ..errors import ConflictError, InvalidRequest, shorten
from .base import Backend, require
from .trusted_files import check_trusted_file

log = logging.getLogger(__name__)

ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$")
TLS_FIELDS = ("tls_ca_file", "tls_client_cert", "tls_client_key")
#: A scheduler file is a few hundred bytes; a larger one is not one.
FILE_LIMIT = 1 << 20
NOT_OWNED = (
    "the launcher does not own an existing scheduler's workers, so it cannot scale them: start "
    "or stop workers where they were started (dask worker, your batch job or MPI run)"
)
IGNORED = "ExistingScheduler starts and stops no workers"


# --- options -> address and files -----------------------------------------------------------------
def normalize_address(text: str) -> str | None:
    """``tcp://host:port`` or ``tls://host:port`` (bare ``host:port`` means tcp), else None."""
    address = text if "://" in text else f"tcp://{text}"
    return address if ADDRESS.match(address) else None


def local_path(text: str) -> str:
    """An absolute path: ``~`` expanded, relative paths from the server's directory."""
    return os.path.abspath(os.path.expanduser(text))


def read_small_file(path: str, limit: int = FILE_LIMIT) -> bytes:
    """A regular file's bytes. FIFOs and devices are refused before opening (reading one would
    hang the thread), and opening does not block on one swapped in after the check."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError("is not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    with os.fdopen(os.open(path, flags), "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"is larger than {limit // 1024} KiB")
    return data


def read_scheduler_file(path: str) -> str:
    """The address in a scheduler file (``dask scheduler --scheduler-file``, dask-mpi), once
    the file is known to be the user's alone (``ValueError`` says why not)."""
    check_trusted_file(path)
    try:
        data = json.loads(read_small_file(path))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("is not a scheduler file (not JSON)") from None
    address = data.get("address") if isinstance(data, dict) else None
    if not isinstance(address, str) or not ADDRESS.match(address):
        raise ValueError("holds no tcp:// or tls:// scheduler address")
    return address


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return (exc.strerror or type(exc).__name__).lower()
    return str(exc)


def _no_passphrase() -> str:
    raise ValueError("the key is encrypted with a passphrase, which Dask cannot use")


def check_options(options: dict[str, Any]) -> str:
    """The scheduler's address, once the options agree with the file system (blocking: run it
    in a thread); InvalidRequest names the field otherwise."""
    text, scheduler_file = options.get("address", ""), options.get("scheduler_file", "")
    require(
        bool(text) != bool(scheduler_file),
        "options.address",
        "give either the scheduler's address or its scheduler file (one of the two)",
    )
    if text:
        address = normalize_address(text) or ""
        require(bool(address), "options.address", "must be tcp://host:port or tls://host:port")
    else:
        path = local_path(scheduler_file)
        try:
            address = read_scheduler_file(path)
        except (OSError, ValueError) as exc:
            field = "options.scheduler_file"
            raise InvalidRequest(f"{field}: {shorten(path)} {_why(exc)}", field) from None
    files = {name: local_path(options[name]) for name in TLS_FIELDS if options.get(name)}
    if not address.startswith("tls://"):
        for name in files:
            require(False, f"options.{name}", f"{address} does not use TLS: leave this empty")
        return address
    for name in ("tls_ca_file", "tls_client_cert"):
        require(name in files, f"options.{name}", f"is required: {address} uses TLS")
    for name, path in files.items():
        try:
            read_small_file(path)
            if name == "tls_ca_file":  # it says whom the connection trusts
                check_trusted_file(path, root_may_own=True)
        except (OSError, ValueError) as exc:
            field = f"options.{name}"
            raise InvalidRequest(f"{field}: {shorten(path)} {_why(exc)}", field) from None
    _check_credentials(files)
    return address


def _check_credentials(files: dict[str, str]) -> None:
    """Load the CA and the certificate with its key as distributed will; name the bad file."""
    field = "options.tls_ca_file"
    try:
        ssl.create_default_context(cafile=files["tls_ca_file"])
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidRequest(f"{field}: is not a PEM certificate ({exc})", field) from None
    field = "options.tls_client_key" if "tls_client_key" in files else "options.tls_client_cert"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(
            files["tls_client_cert"], files.get("tls_client_key"), password=_no_passphrase
        )
    except (ssl.SSLError, ValueError) as exc:
        message = f"the certificate and its key do not load ({exc})"
        raise InvalidRequest(f"{field}: {message}", field) from None


# --- the dashboard ------------------------------------------------------------------------------
def dashboard_link(address: str, info: dict[str, Any]) -> str | None:
    """The scheduler's dashboard at the scheduler's host: a plain link for the browser. Never
    one through the Jupyter server (``/proxy/PORT/``), which would forward the user's cookies
    and token to whatever listens there."""
    from distributed.comm.addressing import get_address_host, unparse_host_port

    port = (info.get("services") or {}).get("dashboard")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        return None
    return f"http://{unparse_host_port(get_address_host(address), int(port))}/status"


def worker_row(address: Any, worker: Any) -> dict[str, Any]:
    """A worker as the sidebar shows it, in plain strings and numbers only: the host sends the
    rows on to the Jupyter server, which must receive nothing the scheduler made."""

    def text(value: Any) -> str:
        return str.__str__(str(value))  # a str subclass becomes a plain str

    def number(value: Any) -> int:
        try:
            return int(str(int(value or 0)))
        except (TypeError, ValueError, OverflowError):
            return 0

    worker = worker if isinstance(worker, dict) else {}
    status = worker.get("status", "running")
    return {
        "name": text(worker.get("name", address)),
        "address": text(address),
        "host": text(worker.get("host", "")),
        "nthreads": number(worker.get("nthreads")),
        "memory_limit": number(worker.get("memory_limit")),
        "status": text(getattr(status, "name", status)),
        "job_id": None,
    }


# --- the cluster object -------------------------------------------------------------------------
def __getattr__(name: str) -> Any:
    """``from dask_cluster_launcher.backends.existing import ExistingScheduler`` (the code a
    preview shows) works, while the server imports distributed only once it connects."""
    if name == "ExistingScheduler":
        return scheduler_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def scheduler_class() -> type:
    """``ExistingScheduler``, defined when first needed (distributed is slow to import)."""
    from distributed.comm.core import CommClosedError
    from distributed.core import Status, rpc
    from distributed.deploy.cluster import Cluster
    from distributed.objects import SchedulerInfo
    from distributed.security import Security

    class ExistingScheduler(Cluster):
        """A running Dask scheduler as a cluster object (``distributed.deploy.Cluster``): live
        ``scheduler_info``, ``dashboard_link``, and ``close()``, which disconnects, or with
        ``shutdown_on_close`` shuts the scheduler (and its workers) down. It starts no
        workers: ``scale`` and ``adapt`` do nothing but warn."""

        _supports_scaling = False
        #: Seconds between two ``ncores`` calls; identities are read only when the workers
        #: changed, and every ``full_refresh_interval`` seconds (for their status).
        poll_interval = 0.5
        full_refresh_interval = 5.0

        def __init__(
            self,
            address: str | None = None,
            *,
            scheduler_file: str | None = None,
            tls_ca_file: str | None = None,
            tls_client_cert: str | None = None,
            tls_client_key: str | None = None,
            timeout: float = 10.0,
            shutdown_on_close: bool = False,
            asynchronous: bool = False,
            loop: Any = None,
            name: str | None = None,
        ) -> None:
            if (address is None) == (scheduler_file is None):
                raise ValueError("give the scheduler's address or its scheduler_file")
            super().__init__(asynchronous=asynchronous, loop=loop, name=name)
            self._address, self.scheduler_file = address, scheduler_file
            tls = (("tls_ca_file", tls_ca_file), ("tls_client_cert", tls_client_cert),
                   ("tls_client_key", tls_client_key))  # fmt: skip
            self.security_kwargs = {key: value for key, value in tls if value}
            self.security = (
                Security(require_encryption=True, **self.security_kwargs)
                if self.security_kwargs
                else Security()
            )
            self.timeout, self.shutdown_on_close = float(timeout), shutdown_on_close
            #: Why the scheduler is gone (set by the watch), or None.
            self.lost_reason: str | None = None
            self._dashboard: str | None = None
            self._watch: asyncio.Task[None] | None = None
            self._rpc: Any = None  # the scheduler_comm, typed for calls
            if not self.called_from_running_loop:
                self._loop_runner.start()
                self.sync(self._start)

        def __await__(self) -> Any:
            async def start() -> Any:
                if self.status == Status.created:
                    await self._start()
                return self

            return start().__await__()

        async def _start(self) -> None:
            if self._address is not None:
                address = self._address
            else:
                address = await asyncio.to_thread(read_scheduler_file, str(self.scheduler_file))
            if self.security_kwargs.get("tls_ca_file"):
                ca_file = self.security_kwargs["tls_ca_file"]
                await asyncio.to_thread(check_trusted_file, ca_file, root_may_own=True)
            # loading certificates reads files: not on the event loop
            args = await asyncio.to_thread(self.security.get_connection_args, "client")
            self.scheduler_comm = self._rpc = rpc(
                address, connection_args=args, timeout=self.timeout
            )
            # connecting retries for ``timeout``, then says why; this bounds a silent scheduler
            identity = self._rpc.identity(n_workers=-1)
            info = await asyncio.wait_for(identity, 2 * self.timeout)
            if info.get("type") != "Scheduler":
                raise ValueError(f"{address} is a Dask {info.get('type')}, not a scheduler")
            self.scheduler_info = SchedulerInfo(info)
            self._dashboard = dashboard_link(address, info)
            self.status = Status.running
            self._watch = asyncio.ensure_future(self._watch_workers())

        async def _watch_workers(self) -> None:
            loop = asyncio.get_running_loop()
            answered = refreshed = loop.time()
            known = set(self.scheduler_info["workers"])
            while self.status == Status.running:
                await asyncio.sleep(self.poll_interval)
                try:
                    nthreads = await asyncio.wait_for(self._rpc.ncores(), self.timeout)
                    stale = loop.time() - refreshed > self.full_refresh_interval
                    if set(nthreads) != known or stale:
                        identity = self._rpc.identity(n_workers=-1)
                        info = await asyncio.wait_for(identity, self.timeout)
                        self.scheduler_info = SchedulerInfo(info)
                        known, refreshed = set(info["workers"]), loop.time()
                    answered = loop.time()
                except Exception as exc:
                    if loop.time() - answered > 2 * self.timeout:
                        reason = str(exc).strip() or type(exc).__name__
                        where = self.scheduler_address
                        self.lost_reason = f"lost the scheduler at {where}: {reason}"
                        return

        @property
        def dashboard_link(self) -> str:
            return self._dashboard or ""

        def scale(self, n: int) -> None:
            warnings.warn(f"{IGNORED}: scale({n}) ignored", UserWarning, stacklevel=2)

        def adapt(self, *args: Any, **kwargs: Any) -> Any:
            warnings.warn(f"{IGNORED}: adapt() ignored", UserWarning, stacklevel=2)

        async def _close(self) -> None:
            if self.status in (Status.closing, Status.closed):
                return
            running = self.status == Status.running
            self.status = Status.closing
            if self._watch is not None:
                self._watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._watch
            if self.shutdown_on_close and running and self.lost_reason is None:
                try:  # the scheduler closes its workers, then the connection, as it answers
                    with contextlib.suppress(CommClosedError):
                        await asyncio.wait_for(self._rpc.terminate(), self.timeout)
                except Exception:
                    log.warning("Shutting down the scheduler at %s failed",
                                self.scheduler_address, exc_info=True)  # fmt: skip
            if self.scheduler_comm is not None:
                await self.scheduler_comm.close_rpc()
            self.status = Status.closed

    return ExistingScheduler


# --- the backend ----------------------------------------------------------------------------------
class ExistingBackend(Backend):
    name = "existing"
    title = "Existing scheduler"
    schema_file = "backends/existing.yaml"
    cluster_class_path = "dask_cluster_launcher.backends.existing.ExistingScheduler"
    #: Anywhere: its dashboard gets a plain link, never one through the Jupyter server.
    dashboard_on_this_machine = False
    #: Its workers are whoever started them: running once connected.
    starts_workers = False
    #: Its owner chose its security; the user brings the credentials (files they can read).
    private_cluster = False
    #: What the scheduler sends is read in a host process, never in the Jupyter server.
    runs_in_host = True

    def __init__(self) -> None:
        #: Clusters whose launch is done: scaling them now is a request, and refused.
        self._launched: weakref.WeakSet[Any] = weakref.WeakSet()

    def cluster_class(self) -> type:
        return scheduler_class()

    async def check_consistency(self, options: dict[str, Any]) -> None:
        await asyncio.to_thread(check_options, options)

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if options.get("address"):
            kwargs["address"] = normalize_address(options["address"]) or options["address"]
        else:
            kwargs["scheduler_file"] = local_path(options["scheduler_file"])
        kwargs.update({name: local_path(options[name]) for name in TLS_FIELDS if options.get(name)})
        kwargs["timeout"] = options["connect_timeout"]
        kwargs["shutdown_on_close"] = options["shutdown_on_stop"]
        return kwargs

    async def submitted(self, cluster: Any) -> None:
        self._launched.add(cluster)

    async def scale(self, cluster: Any, n: int) -> None:
        self._refuse_scaling(cluster)

    async def adapt(self, cluster: Any, minimum: int, maximum: int) -> None:
        self._refuse_scaling(cluster)

    def _refuse_scaling(self, cluster: Any) -> None:
        """The launch's own scaling is the form's default: noted, nothing to do. Later
        requests are refused, with the reason."""
        if cluster in self._launched:
            raise ConflictError(NOT_OWNED)

    def lost(self, cluster: Any) -> str | None:
        return cluster.lost_reason

    async def workers(self, cluster: Any) -> list[dict[str, Any]]:
        workers = (getattr(cluster, "scheduler_info", None) or {}).get("workers") or {}
        rows = [worker_row(address, worker) for address, worker in dict(workers).items()]
        return sorted(rows, key=lambda row: row["address"])

    def client_security(self, cluster: Any) -> dict[str, str] | None:
        return dict(cluster.security_kwargs) or None
