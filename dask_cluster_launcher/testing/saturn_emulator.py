"""Local stand-in for Saturn Cloud's Dask API (as unmodified dask_saturn 0.4.4 speaks it), with a
real ``distributed.LocalCluster`` per Saturn cluster: ``tcp://`` in internal mode, ``tls://`` with
``require_encryption`` and the emulator's CA in external mode. See docs/saturn-emulator.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import re
import secrets
import signal
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from distributed import LocalCluster
from distributed.system import MEMORY_LIMIT
from distributed.utils import sync

from .saturn_emulator_tls import CertificateAuthority, CSRError

log = logging.getLogger(__name__)

# (name, display, cores, RAM in GB): the sizes Saturn Cloud documents.
SIZES: list[tuple[str, str, int, int]] = [
    ("medium", "Medium - 2 cores - 4 GB RAM", 2, 4),
    ("large", "Large - 2 cores - 16 GB RAM", 2, 16),
    ("xlarge", "XLarge - 4 cores - 32 GB RAM", 4, 32),
    ("2xlarge", "2XLarge - 8 cores - 64 GB RAM", 8, 64),
    ("4xlarge", "4XLarge - 16 cores - 128 GB RAM", 16, 128),
    ("8xlarge", "8XLarge - 32 cores - 256 GB RAM", 32, 256),
    ("12xlarge", "12XLarge - 48 cores - 384 GB RAM", 48, 384),
    ("16xlarge", "16XLarge - 64 cores - 512 GB RAM", 64, 512),
    ("g4dnxlarge", "T4-XLarge - 4 cores - 16 GB RAM - 1 GPU", 4, 16),
    ("g4dn4xlarge", "T4-4XLarge - 16 cores - 64 GB RAM - 1 GPU", 16, 64),
    ("g4dn8xlarge", "T4-8XLarge - 32 cores - 128 GB RAM - 1 GPU", 32, 128),
    ("p32xlarge", "V100-2XLarge - 8 cores - 61 GB RAM - 1 GPU", 8, 61),
    ("p38xlarge", "V100-8XLarge - 32 cores - 244 GB RAM - 4 GPUs", 32, 244),
    ("p316xlarge", "V100-16XLarge - 64 cores - 488 GB RAM - 8 GPUs", 64, 488),
]
_SIZE = {s[0]: s for s in SIZES}
AUTH_MESSAGE = "Invalid or missing API token"
_OPTIONS = {"n_workers", "nprocs", "nthreads", "worker_size", "scheduler_size", "worker_is_spot"}
_ADMIN = {"fail", "hang", "release_hung", "clear_faults", "configure"}  # POST /_emulator/<name>


class EmulatorHTTPError(Exception):
    """Turned into a non-2xx reply with a JSON body ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _int(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise EmulatorHTTPError(400, f"{key} must be an integer in [{low}, {high}], got {value!r}")
    return value


def _json_safe(value: Any) -> Any:
    """``value`` with every mapping key a string, as a JSON API sends it (worker metrics
    use tuple keys)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _json(raw: bytes) -> dict[str, Any]:
    """Parse a body as JSON whatever the Content-Type (dask_saturn sends none)."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as err:
        raise EmulatorHTTPError(400, f"Request body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise EmulatorHTTPError(400, "Request body must be a JSON object")
    return body


@dataclass
class _Fault:
    path: str  # fnmatch pattern on the path without query, e.g. "/api/dask_clusters/*/info"
    method: str | None
    status: int = 0  # 0: hang
    message: str = ""
    times: int | None = None  # None: forever


@dataclass
class _Cluster:
    id: str
    external: bool
    config: dict[str, Any]
    polls_left: int
    local: LocalCluster | None = None
    status: str = "pending"  # pending | ready | error | closed
    errors: list[str] = field(default_factory=list)
    adaptive: tuple[int, int] | None = None
    booted: threading.Event = field(default_factory=threading.Event)

    def on_loop(self, fn: Any) -> Any:
        """Run ``fn()`` on the LocalCluster's own event-loop thread; return its result."""

        async def run() -> Any:
            return fn()

        assert self.local is not None
        return sync(self.local.loop, run)  # type: ignore[arg-type]

    def describe(self) -> dict[str, Any]:
        local = self.local
        return {
            "id": self.id,
            "status": self.status,
            "is_external": self.external,
            "scheduler_address": local.scheduler_address if local else None,
            "dashboard_link": local.dashboard_link if local else None,
            "config": dict(self.config),
            "adaptive": list(self.adaptive) if self.adaptive else None,
            "workers": len(local.scheduler.workers) if local else 0,  # type: ignore[union-attr]
            "errors": list(self.errors),
        }


class SaturnEmulator:
    """Threaded HTTP server on loopback emulating Saturn's ``/api/dask_clusters`` API."""

    def __init__(
        self,
        token: str = "emulator-token",
        *,
        port: int = 0,
        processes: bool = False,
        pending_polls: int = 0,
        max_workers: int = 16,
        adapt_interval: str = "1s",
        fail_create: tuple[int, str] | None = None,
        hang_paths: tuple[str, ...] = (),
        reject_token: bool = False,
        start_timeout: float = 120.0,
    ) -> None:
        self.token, self.host, self._port = token, "127.0.0.1", port
        self.processes, self.max_workers, self.start_timeout = processes, max_workers, start_timeout
        self.configure(pending_polls, reject_token, adapt_interval)
        self.ca = CertificateAuthority()
        self._lock = threading.RLock()
        self._clusters: dict[str, _Cluster] = {}  # every cluster ever created, by id
        self._live: str | None = None  # id of the live cluster: one per resource (the token)
        self._faults: list[_Fault] = []
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        if fail_create:
            self.fail("/api/dask_clusters", *fail_create, method="POST")
        for path in hang_paths:
            self.hang(path)

    def start(self) -> SaturnEmulator:
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer((self.host, self._port), handler)
        self._server.daemon_threads = True
        serve = self._server.serve_forever
        threading.Thread(target=serve, args=(0.05,), name="saturn-emulator", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving, drop hung requests and shut down every Dask cluster started."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for cluster in list(self._clusters.values()):
            self._close_cluster(cluster)

    def __enter__(self) -> SaturnEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("SaturnEmulator is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL (API at the root, trailing slash) for ``SATURN_BASE_URL``."""
        return f"http://{self.host}:{self.port}/"

    def env(self, internal: bool = False) -> dict[str, str]:
        """Environment variables pointing dask_saturn at this emulator."""
        env = {"SATURN_BASE_URL": self.url, "SATURN_TOKEN": self.token}
        return {**env, "SATURN_IS_INTERNAL": "true"} if internal else env

    def clusters(self) -> list[dict[str, Any]]:
        """Live (not closed) clusters, as JSON-able dicts."""
        with self._lock:
            return [self._clusters[self._live].describe()] if self._live else []

    # ---- fault injection and knobs (also POST /_emulator/<name> with a JSON body of kwargs) --
    def configure(
        self,
        pending_polls: int | None = None,
        reject_token: bool | None = None,
        adapt_interval: str | None = None,
    ) -> None:
        """pending_polls: new clusters answer "pending" to that many create polls first;
        reject_token: answer 401 to every /api request; adapt_interval: Adaptive's interval."""
        if pending_polls is not None:
            self.pending_polls = int(pending_polls)
        if reject_token is not None:
            self.reject_token = bool(reject_token)
        if adapt_interval is not None:
            self.adapt_interval = adapt_interval

    def fail(
        self,
        path: str,
        status: int,
        message: str,
        method: str | None = None,
        times: int | None = None,
    ) -> None:
        """Reply ``status`` + ``{"message": message}`` to requests whose path matches ``path``
        (an fnmatch pattern), optionally only for ``method`` and only ``times`` times."""
        with self._lock:
            self._faults.append(_Fault(path, method and method.upper(), status, message, times))

    def hang(self, path: str, method: str | None = None) -> None:
        """Never answer requests matching ``path`` (until release_hung/clear_faults/stop)."""
        with self._lock:
            self._release.clear()
            self._faults.append(_Fault(path, method and method.upper()))

    def release_hung(self) -> None:
        """Drop the connections of hung requests without a reply."""
        self._release.set()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self.reject_token = False
        self.release_hung()

    # ---- request handling --------------------------------------------------------------------
    def _fault_for(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in (None, method) and fnmatch.fnmatchcase(path, fault.path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _handle(
        self, method: str, path: str, query: dict[str, list[str]], auth: str, raw: bytes
    ) -> tuple[int, Any] | None:
        """Return ``(status, JSON-able or PEM str)``, or None to drop the connection (hang)."""
        fault = self._fault_for(method, path)
        if fault is not None and fault.status == 0:
            self._release.wait()
            return None
        authed = auth == f"token {self.token}"
        if path.startswith("/_emulator/"):  # admin: needs a real token even with reject_token
            if not authed:
                raise EmulatorHTTPError(401, AUTH_MESSAGE)
            name = path[len("/_emulator/") :]
            if (method, name) == ("GET", "clusters"):
                return 200, self.clusters()
            if method != "POST" or name not in _ADMIN:
                raise EmulatorHTTPError(404, f"No such admin endpoint: {method} {path}")
            try:
                getattr(self, name)(**_json(raw))
            except TypeError as err:
                raise EmulatorHTTPError(400, str(err)) from err
            return 200, {"status": "ok"}
        if self.reject_token or not authed:
            raise EmulatorHTTPError(401, AUTH_MESSAGE)
        if fault is not None:
            raise EmulatorHTTPError(fault.status, fault.message)
        external = query.get("is_external", [""])[0].lower() == "true"
        if (method, path) == ("GET", "/api/dask_clusters/info"):
            sizes = [{"name": s[0], "display": s[1]} for s in SIZES]
            return 200, {"server_options": {"size": sizes}}
        if (method, path) == ("POST", "/api/dask_clusters"):
            return 200, self._create(external, _json(raw))
        if (method, path) == ("POST", "/api/dask_clusters/reset"):
            self._options(_json(raw))
            if cid := self._live:
                self._close_cluster(self._clusters[cid])
            return 200, {"status": "reset", "id": cid}
        match = re.fullmatch(r"/api/dask_clusters/([0-9a-f]+)(?:/([a-z_]+))?", path)
        if match is None or match[1] not in self._clusters:
            raise EmulatorHTTPError(404, f"No such endpoint or cluster: {method} {path}")
        cluster = self._clusters[match[1]]
        return self._cluster_action(cluster, method, match[2] or "", external, raw)

    def _cluster_action(
        self, cluster: _Cluster, method: str, action: str, external: bool, raw: bytes
    ) -> tuple[int, Any]:
        if method == "GET" and action in ("", "status"):
            return 200, {"id": cluster.id, "status": cluster.status}
        if (method, action) == ("POST", "close"):
            self._close_cluster(cluster)
            return 200, {"status": "closed", "id": cluster.id}
        local, k = cluster.local, cluster.config["nprocs"]  # k: dask workers per "machine"
        if cluster.status != "ready" or local is None:
            raise EmulatorHTTPError(409, f"Cluster {cluster.id} is not running ({cluster.status})")
        if (method, action) == ("GET", "info"):
            if external != cluster.external:
                mode = "external" if cluster.external else "internal"
                raise EmulatorHTTPError(409, f"Cluster {cluster.id} was started in {mode} mode")
            info = {"scheduler_address": local.scheduler_address}
            return 200, {**info, "dashboard_link": local.dashboard_link}
        if (method, action) == ("POST", "csr"):
            if not cluster.external:
                raise EmulatorHTTPError(409, f"Cluster {cluster.id} is internal: it has no TLS")
            try:
                return 200, self.ca.sign_csr(raw)
            except CSRError as err:
                raise EmulatorHTTPError(400, str(err)) from err
        if (method, action) == ("GET", "scheduler_info"):
            identity = cluster.on_loop(local.scheduler.identity)  # type: ignore[union-attr]
            return 200, _json_safe(identity)
        if (method, action) == ("POST", "scale"):
            n = _int(_json(raw), "n", 0, self.max_workers // k)

            def scale() -> None:
                if local._adaptive is not None:  # like Saturn: scale() turns adapt off
                    local._adaptive.stop()
                local.scale(n * k)

            cluster.on_loop(scale)
            cluster.adaptive, cluster.config["n_workers"] = None, n
            return 200, {"status": "ok"}
        if (method, action) == ("POST", "adapt"):
            body, top = _json(raw), self.max_workers // k
            low, high = _int(body, "minimum", 0, top), _int(body, "maximum", 0, top)
            if low > high:
                raise EmulatorHTTPError(400, f"minimum ({low}) must not exceed maximum ({high})")
            interval = self.adapt_interval
            cluster.on_loop(
                lambda: local.adapt(minimum=low * k, maximum=high * k, interval=interval)
            )
            cluster.adaptive = (low, high)
            return 200, {"status": "ok"}
        raise EmulatorHTTPError(404, f"No such endpoint: {method} .../{cluster.id}/{action}")

    def _options(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate a create/reset body; return the options it sets (None means unset)."""
        body = {k: v for k, v in body.items() if v is not None and k != "prefectcloudflowrun_id"}
        unknown = sorted(set(body) - _OPTIONS)
        if unknown:
            raise EmulatorHTTPError(400, f"Unknown cluster option(s): {', '.join(unknown)}")
        for key in ("n_workers", "nprocs", "nthreads"):
            if key in body:
                _int(body, key, 0 if key == "n_workers" else 1, self.max_workers)
        for key in ("worker_size", "scheduler_size"):
            if key in body and body[key] not in _SIZE:
                msg = f"Proposed {key}: {body[key]} is not a valid option. Options: {list(_SIZE)}"
                raise EmulatorHTTPError(400, msg)
        if not isinstance(body.get("worker_is_spot", False), bool):
            raise EmulatorHTTPError(400, "worker_is_spot must be a boolean")
        return body

    def _create(self, external: bool, body: dict[str, Any]) -> dict[str, Any]:
        given, warnings = self._options(body), []
        with self._lock:
            cid = self._live
            if cid is None:  # get-or-create: one cluster per resource
                size = given.get("worker_size", "medium")
                config = {"n_workers": 1, "worker_size": size,
                          "scheduler_size": "medium", "worker_is_spot": False, "nprocs": 1,
                          "nthreads": _SIZE[size][2], **given}  # fmt: skip
                if config["n_workers"] * config["nprocs"] > self.max_workers:
                    msg = f"n_workers * nprocs exceeds this emulator's limit of {self.max_workers}"
                    raise EmulatorHTTPError(400, msg)
                cid = uuid.uuid4().hex
                cluster = _Cluster(cid, external, config, self.pending_polls)
                self._clusters[cid] = cluster
                self._live = cid
                threading.Thread(target=self._boot, args=(cluster,), daemon=True).start()
            cluster = self._clusters[cid]
            if cluster.external != external:
                mode = "external" if cluster.external else "internal"
                raise EmulatorHTTPError(409, f"Cluster {cid} is running in {mode} mode; reset it")
            diff = [f"{k}: {cluster.config[k]!r} -> {v!r}" for k, v in given.items()
                    if cluster.config[k] != v]  # fmt: skip
            if diff:
                warnings.append(
                    f"The running cluster's configuration differs ({', '.join(diff)}); "
                    "use SaturnCluster.reset() to apply the new configuration."
                )
            polls_left, cluster.polls_left = cluster.polls_left, max(0, cluster.polls_left - 1)
        if polls_left == 0:  # default: ready on the first call (dask_saturn sleeps 5-9 s else)
            cluster.booted.wait(self.start_timeout)
        status = "pending" if polls_left or not cluster.booted.is_set() else cluster.status
        reply: dict[str, Any] = {"status": status, "id": cid, "warnings": warnings}
        return {**reply, "errors": cluster.errors} if status == "error" else reply

    def _boot(self, cluster: _Cluster) -> None:
        config, k = cluster.config, cluster.config["nprocs"]
        try:
            local = LocalCluster(
                name=cluster.id,
                n_workers=config["n_workers"] * config["nprocs"],
                threads_per_worker=config["nthreads"],
                memory_limit=min(MEMORY_LIMIT, _SIZE[config["worker_size"]][3] * 2**30 // k),
                processes=self.processes,
                protocol="tls://" if cluster.external else "tcp://",
                # every listener on loopback: other users of the machine reach none of it
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                worker_dashboard_address=None,
                security=self.ca.node_security() if cluster.external else None,
            )
            with self._lock:
                closed = cluster.status == "closed"  # closed meanwhile (boot > start_timeout)
                if not closed:
                    cluster.local, cluster.status = local, "ready"
            if closed:
                local.close()
        except Exception as err:
            log.exception("Dask cluster %s failed to start", cluster.id)
            cluster.status, cluster.errors = "error", [f"Dask cluster failed to start: {err}"]
        finally:
            cluster.booted.set()

    def _close_cluster(self, cluster: _Cluster) -> None:
        with self._lock:
            if self._live == cluster.id:
                self._live = None
        cluster.booted.wait(self.start_timeout)
        with self._lock:
            local, cluster.local, cluster.status = cluster.local, None, "closed"
        if local is not None:
            local.close()


class _Handler(BaseHTTPRequestHandler):
    emulator: SaturnEmulator
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url, auth = urlsplit(self.path), self.headers.get("Authorization", "")
        try:
            result = self.emulator._handle(method, url.path, parse_qs(url.query), auth, raw)
        except EmulatorHTTPError as err:
            result = (err.status, {"message": err.message})
        except Exception as err:
            log.exception("Saturn emulator: %s %s failed", method, self.path)
            result = (500, {"message": f"Saturn emulator internal error: {err!r}"})
        if result is None:  # a released hang: drop the connection without a reply
            self.close_connection = True
            return
        status, body = result
        pem = isinstance(body, str)
        data = body.encode() if pem else json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-pem-file" if pem else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("saturn-emulator: " + format, *args)


for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):  # JSON 404s rather than HTML 501s
    setattr(_Handler, f"do_{_method}", lambda self, m=_method: self._serve(m))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Saturn Cloud Dask API emulator")
    parser.add_argument("--port", type=int, default=8899, help="0: any free port")
    parser.add_argument("--token", default=None, help="API token (default: random)")
    parser.add_argument("--processes", action="store_true", help="worker processes, not threads")
    parser.add_argument("--pending-polls", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    token = args.token or secrets.token_hex(16)
    emulator = SaturnEmulator(token, port=args.port, processes=args.processes,
                              pending_polls=args.pending_polls)  # fmt: skip
    emulator.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    for key, value in emulator.env().items():
        print(f"export {key}={value}")
    print("# internal mode (plain tcp://, no TLS): export SATURN_IS_INTERNAL=true", flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
