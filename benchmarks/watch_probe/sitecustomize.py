"""A probe of the watch path, for benchmarks only (never imported by the product): put this
folder on a Jupyter server's ``PYTHONPATH`` with ``DCL_PROBE_LOG=<file>`` set, and the server
and its cluster hosts append JSON lines to that file:

- ``plugin_add_worker``, ``plugin_status_change``: the host's scheduler plugin was called;
- ``host_view``, ``host_update``, ``host_watch_return``: the host looked at the scheduler's
  workers, changed its model (with the running workers after it, and how long the call took),
  answered a watch call;
- ``server_apply``, ``server_publish``: the server applied a host's patch, published an event
  (``started``: when it began sending it);
- ``lag`` (every half second, per process): the event loop's worst lateness, and the main
  thread's time on a CPU and waiting for one (``/proc/self/task/<pid>/schedstat``, seconds);
- ``gc``: garbage collections over 10 ms in a host.

Classes are patched when their modules are imported (an import hook), so processes that never
import them (workers) are untouched.
"""

from __future__ import annotations

import os

_LOG = os.environ.get("DCL_PROBE_LOG")

if _LOG is not None:
    _PATH: str = _LOG
    import asyncio
    import gc
    import importlib.abc
    import importlib.util
    import json
    import sys
    import time
    from typing import Any

    def _write(kind: str, **data: Any) -> None:
        line = json.dumps({"t": time.time(), "pid": os.getpid(), "kind": kind, **data})
        fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def _running(rows: Any) -> int:
        return sum(1 for row in rows if row.get("status") == "running")

    _monitored: set[int] = set()
    _monitored_tasks: list[Any] = []  # kept: a task nobody holds may be collected

    def _monitor_loop(role: str) -> None:
        """Once per process (a forked host starts its own)."""
        if os.getpid() in _monitored:
            return
        _monitored.add(os.getpid())

        async def monitor() -> None:
            loop = asyncio.get_running_loop()
            worst, window = 0.0, loop.time()
            while True:
                before = loop.time()
                await asyncio.sleep(0.02)
                worst = max(worst, loop.time() - before - 0.02)
                if loop.time() - window >= 0.5:
                    with open(f"/proc/self/task/{os.getpid()}/schedstat") as f:
                        ran, waited, _ = (int(x) for x in f.read().split())
                    lag = round(worst, 4)
                    _write("lag", role=role, worst=lag, run=ran / 1e9, wait=waited / 1e9)
                    worst, window = 0.0, loop.time()

        _monitored_tasks.append(asyncio.ensure_future(monitor()))

    def _gc_probe() -> None:
        started: dict[str, float] = {}

        def callback(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                started["t"] = time.perf_counter()
            elif "t" in started:
                took = time.perf_counter() - started.pop("t")
                if took > 0.01:
                    _write("gc", gen=info.get("generation"), took=round(took, 4))

        gc.callbacks.append(callback)

    def _patch_host(module: Any) -> None:
        _gc_probe()
        cls = module.ClusterHost
        update, watch, view = cls._update, cls.watch, cls._scheduler_view

        async def _update(self: Any, workers: Any = None, **fields: Any) -> None:
            _monitor_loop("host")
            started, version = time.time(), self.model.version
            await update(self, workers, **fields)
            if self.model.version != version and workers is not None:
                _write(
                    "host_update", version=self.model.version, n=len(workers),
                    running=_running(workers), dur=time.time() - started,
                )  # fmt: skip

        async def _watch(self: Any, since: int = 0, timeout: float = 30.0) -> Any:
            patch = await watch(self, since, timeout)
            _write("host_watch_return", since=since, version=self.model.version)
            return patch

        def _view(self: Any) -> Any:
            started = time.time()
            result = view(self)
            _write("host_view", dur=time.time() - started, n=-1 if result is None else len(result))
            return result

        cls._update, cls.watch, cls._scheduler_view = _update, _watch, _view

    def _patch_events(module: Any) -> None:
        cls = module.SchedulerEvents
        add_worker, log_event = cls.add_worker, cls.log_event

        def _add_worker(self: Any, scheduler: Any, worker: str) -> None:
            _write("plugin_add_worker", n=len(scheduler.workers))
            add_worker(self, scheduler, worker)

        def _log_event(self: Any, topic: str, msg: Any) -> None:
            if isinstance(msg, dict) and msg.get("action") == "worker-status-change":
                _write("plugin_status_change", status=str(msg.get("status")))
            log_event(self, topic, msg)

        cls.add_worker, cls.log_event = _add_worker, _log_event

    def _patch_hosted(module: Any) -> None:
        apply = module.apply_host_patch

        def apply_host_patch(row: Any, patch: Any, host_state: str, backend: Any) -> bool:
            _monitor_loop("server")
            result = apply(row, patch, host_state, backend)
            _write("server_apply", running=_running(row.worker_rows.values()))
            return bool(result)

        module.apply_host_patch = apply_host_patch

    def _patch_publishing(module: Any) -> None:
        cls = module.Publisher
        publish = cls.publish

        def _publish(self: Any, launched: Any) -> None:
            started = time.time()
            publish(self, launched)
            running = _running(launched.worker_rows.values())
            _write("server_publish", running=running, started=started, dur=time.time() - started)

        cls.publish = _publish

    _PATCHES = {
        "dask_cluster_launcher.hosting.host": _patch_host,
        "dask_cluster_launcher.hosting.scheduler_events": _patch_events,
        "dask_cluster_launcher.handles.hosted": _patch_hosted,
        "dask_cluster_launcher.publishing": _patch_publishing,
    }

    class _PatchOnImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name not in _PATCHES:
                return None
            sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(name)
            finally:
                sys.meta_path.insert(0, self)
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module

            def patched(module: Any) -> None:
                exec_module(module)
                try:
                    _PATCHES[name](module)
                except Exception as exc:  # a probe never breaks the run
                    _write("probe_error", module=name, error=repr(exc))

            spec.loader.exec_module = patched  # type: ignore[method-assign]
            return spec

    sys.meta_path.insert(0, _PatchOnImport())
