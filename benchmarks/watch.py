"""Watch latency: a worker joins the scheduler -> the user's view shows it.

The join is stamped by the scheduler itself (its ``add-worker`` event, wall clock of this
machine, read afterwards through a separate ``distributed.Client``). The launcher's view is the
events WebSocket; dask-labextension's is its sidebar's poll of ``GET /dask/clusters``, replayed
here at the interval read from the installed labextension's JavaScript.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from pathlib import Path
from typing import Any

from .observe import cluster_event, connect, join_times, launcher_security, running_workers
from .servers import EventStream, JupyterServer
from .stats import Row, Sample

DEFAULT_POLL_INTERVAL = 5.0
_POLL_RE = re.compile(r"_updateClusterList\(\)\},frequency:\{interval:([0-9.e]+)")


def labextension_poll_interval() -> tuple[float, str]:
    """The dask-labextension sidebar's refresh interval (s) and where it was read."""
    from jupyter_core.paths import jupyter_path

    for base in jupyter_path("labextensions"):
        static = Path(base) / "dask-labextension" / "static"
        for js in sorted(static.glob("*.js")) if static.is_dir() else []:
            match = _POLL_RE.search(js.read_text(errors="replace"))
            if match:
                return float(match.group(1)) / 1000, str(js)
    return DEFAULT_POLL_INTERVAL, "not found in the installed labextension; assumed"


async def join_time(client: Any, after: float) -> float:
    """When the scheduler added the (one) worker that joined after ``after``."""
    joins = await join_times(client, after)
    if not joins:
        raise RuntimeError("the scheduler logged no add-worker event")
    return joins[0]


async def wait_scheduler_workers(client: Any, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = await client.scheduler.identity(n_workers=-1)
        if len(info["workers"]) == n:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"scheduler has {len(info['workers'])} workers, not {n}")
        await asyncio.sleep(0.05)


# --- the launcher -------------------------------------------------------------------------
async def launcher(server: JupyterServer, stream: EventStream, repetitions: int) -> Sample:
    latency = Sample()
    since = stream.mark()
    body = {"backend": "local", "options": {"threads_per_worker": 1}, "scaling": {"workers": 1}}
    code, model = await server.request("POST", "dask-cluster-launcher/clusters", body)
    if code != 202:
        raise RuntimeError(f"POST clusters answered {code}: {model}")
    cluster_id = model["id"]
    path = f"dask-cluster-launcher/clusters/{cluster_id}"
    client = None
    try:
        _, event = await stream.wait_for(
            cluster_event(cluster_id, lambda m: running_workers(m) == 1), since
        )
        client = await connect(event["cluster"]["scheduler_address"], launcher_security(cluster_id))
        for i in range(repetitions):
            # the launcher reads the scheduler every 0.2 s: start at a random point of that cycle
            await asyncio.sleep(random.uniform(0, 0.5))
            since = stream.mark()
            started = time.time()
            code, body = await server.request("PATCH", path, {"workers": 2})
            if code != 200:
                raise RuntimeError(f"PATCH {path} answered {code}: {body}")
            seen, _ = await stream.wait_for(
                cluster_event(cluster_id, lambda m: running_workers(m) >= 2), since
            )
            joined = await join_time(client, started)
            latency.add(seen - joined)
            print(f"  watch rep {i + 1}: launcher {latency.values[-1] * 1000:.0f} ms", flush=True)
            since = stream.mark()
            await server.request("PATCH", path, {"workers": 1})
            await stream.wait_for(
                cluster_event(cluster_id, lambda m: len(m.get("workers", [])) == 1), since
            )
    finally:
        if client is not None:
            await client.close()
        await server.request("DELETE", path)
    return latency


# --- dask-labextension, polled like its sidebar -----------------------------------------
class SidebarPoll:
    """``GET /dask/clusters`` every ``interval`` s after the previous answer (Lumino's Poll)."""

    def __init__(self, server: JupyterServer, cluster_id: str, interval: float) -> None:
        self.server = server
        self.cluster_id = cluster_id
        self.interval = interval
        self.answers: list[tuple[float, int]] = []  # (answer time, workers shown)
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            code, models = await self.server.request("GET", "dask/clusters")
            answered = time.time()
            if code == 200:
                workers = next((m["workers"] for m in models if m["id"] == self.cluster_id), 0)
                async with self._changed:
                    self.answers.append((answered, workers))
                    self._changed.notify_all()
            await asyncio.sleep(self.interval)

    async def next_answer(self) -> tuple[float, int]:
        count = len(self.answers)
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.answers) > count)
        return self.answers[-1]

    async def wait_shown(self, n: int, after: float, timeout: float) -> float:
        """Time of the first answer after ``after`` that shows ``n`` workers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for answered, workers in self.answers:
                if answered > after and workers >= n:
                    return answered
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.next_answer(), deadline - time.monotonic())
        raise TimeoutError(f"the poll did not show {n} workers within {timeout:g} s")

    async def wait_phase(self, phase: float) -> None:
        """Wait until ``phase`` s have passed since the latest answer."""
        while True:
            last = self.answers[-1][0] if self.answers else time.time()
            delay = last + phase - time.time()
            if delay < 0:
                await self.next_answer()
                continue
            await asyncio.sleep(delay)
            if not self.answers or self.answers[-1][0] == last:
                return

    def stop(self) -> None:
        self._task.cancel()


async def labextension(server: JupyterServer, repetitions: int, interval: float) -> Sample:
    latency = Sample()
    code, model = await server.request("PUT", "dask/clusters")
    if code != 200:
        raise RuntimeError(f"PUT /dask/clusters answered {code}: {model}")
    cluster_id = model["id"]
    path = f"dask/clusters/{cluster_id}"
    client = poll = None
    # the change lands at a stratified random point of the poll cycle, like a user's would
    phases = [(k + random.random()) / repetitions * interval for k in range(repetitions)]
    random.shuffle(phases)
    try:
        client = await connect(model["scheduler_address"])
        await server.request("PATCH", path, {"workers": 1})
        await wait_scheduler_workers(client, 1)
        poll = SidebarPoll(server, cluster_id, interval)
        await poll.next_answer()
        for i, phase in enumerate(phases):
            await poll.wait_phase(phase)
            started = time.time()
            code, body = await server.request("PATCH", path, {"workers": 2})
            if code != 200:
                raise RuntimeError(f"PATCH {path} answered {code}: {body}")
            await client.wait_for_workers(2, timeout=60)
            joined = await join_time(client, started)
            shown = await poll.wait_shown(2, joined, timeout=interval * 3 + 30)
            latency.add(shown - joined)
            print(f"  watch rep {i + 1}: dask-labextension poll {latency.values[-1]:.2f} s")
            await server.request("PATCH", path, {"workers": 1})
            await wait_scheduler_workers(client, 1)
    finally:
        if poll is not None:
            poll.stop()
        if client is not None:
            await client.close()
        await server.request("DELETE", path)
    return latency


async def run(server: JupyterServer, stream: EventStream, repetitions: int) -> list[Row]:
    interval, source = labextension_poll_interval()
    print(f"  dask-labextension sidebar poll interval: {interval:g} s ({source})")
    ours = await launcher(server, stream, repetitions)
    polled = await labextension(server, repetitions, interval)
    return [
        Row(
            "Watch latency: worker joins -> shown",
            ours,
            polled,
            f"dask-labextension sidebar poll every {interval:g} s (measured)",
            "launcher: scheduler add-worker -> event on dask-cluster-launcher/events",
        ),
        Row(
            "Watch latency vs the poll's expectation",
            ours,
            None,
            f"dask-labextension {interval:g} s poll",
            theoretical=f"{interval / 2:g} s mean, up to {interval:g} s (uniform)",
            theoretical_value=interval / 2,
        ),
    ]
