"""The first task's result: from the launch click until ``client.submit(inc, 1).result()``
returns in a notebook's kernel, through the code each extension inserts, against
dask-labextension in the same run.

- **launcher**: ``POST clusters`` (a local cluster of 2 workers, as ``launch.py``); once an event
  shows the scheduler's address (the sidebar's *Insert client code* is enabled from then on),
  ``GET clusters/<id>/snippet?kernel=python3`` and its ``connect_code`` (what the button inserts),
  run in the kernel; then the task.
- **dask-labextension**: ``PUT /dask/clusters`` (answers once its cluster is up); the code its
  *Inject Dask Client Connection Code* inserts, ``from dask.distributed import Client`` /
  ``client = Client("<address>")`` / ``client``, run in the kernel; then the task.

Both run in a kernel of their server (``python3``, this virtual environment), driven through the
server's kernel WebSocket (``api/kernels/<id>/channels``) as the notebook does. Each run gets a
fresh kernel, started and idle before the launch (a notebook open, its first cluster): each side
pays its kernel's imports. Each side has a server of its own under ``python -m jupyter_server``
with only its extension; runs alternate, each on a quiet machine, after one unmeasured run per
server (its first cluster's one-off imports).

    python benchmarks/first_task.py [--repetitions 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.launch import labextension_launched, launched_local, scheduler_record
from benchmarks.launch_phases import labextension_server
from benchmarks.observe import cluster_event, launcher_security, wait_until_quiet
from benchmarks.servers import EventStream, JupyterServer
from benchmarks.stats import Row, Sample, paired_note, seconds

WORKERS = 2
KERNEL = "python3"
#: the notebook's next cell, run once the inserted one has finished
TASK_CELL = "def inc(x):\n    return x + 1\n\nclient.submit(inc, 1).result()\n"
STEPS = (
    ("answered", "request answered"),
    ("insertable", "code insertable"),
    ("inserted", "code fetched"),
    ("connected", "inserted cell done"),
    ("first_join", "1st worker joined"),
    ("result", "task result"),
)


def labextension_code(address: str) -> str:
    """What dask-labextension's sidebar inserts (its JavaScript: ``Client("${address}")``)."""
    return f'from dask.distributed import Client\n\nclient = Client("{address}")\nclient'


class Kernel:
    """A kernel of a Jupyter server, driven over its WebSocket as a notebook drives it."""

    def __init__(self, server: JupyterServer, kernel_id: str, conn: Any) -> None:
        self.server, self.id, self._conn = server, kernel_id, conn
        self.session = uuid.uuid4().hex

    @classmethod
    async def start(cls, server: JupyterServer, name: str = KERNEL) -> Kernel:
        code, model = await server.request("POST", "api/kernels", {"name": name})
        if code != 201:
            raise RuntimeError(f"POST api/kernels answered {code}: {model}")
        url = (
            f"ws://127.0.0.1:{server.port}/api/kernels/{model['id']}/channels"
            f"?session_id={uuid.uuid4().hex}"
        )
        conn = await websocket_connect(
            HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
        )
        kernel = cls(server, model["id"], conn)
        await kernel.request("kernel_info_request", {}, timeout=60)  # it answers once ready
        return kernel

    async def request(
        self, msg_type: str, content: dict[str, Any], timeout: float = 120.0
    ) -> tuple[dict[str, Any], dict[str, Any] | None, float]:
        """Send one shell request; (its reply's content, the ``execute_result`` content or
        None, the ``time.time()`` that result arrived at, else the reply's)."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "session": self.session,
            "username": "benchmark",
            "version": "5.3",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        message = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        await self._conn.write_message(json.dumps({**message, "channel": "shell", "buffers": []}))
        deadline = time.monotonic() + timeout
        result: dict[str, Any] | None = None
        reply: dict[str, Any] | None = None
        arrived = replied = 0.0
        idle = False  # iopub's "idle" comes after the result; the shell reply may come first
        while reply is None or not idle:
            text = await asyncio.wait_for(self._conn.read_message(), deadline - time.monotonic())
            if text is None:
                raise RuntimeError(f"kernel {self.id}: its WebSocket closed")
            now = time.time()
            data = json.loads(text)
            if data.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = data["header"]["msg_type"]
            if kind == "execute_result":
                result, arrived = data["content"], now
            elif kind == "error":
                trace = "\n".join(data["content"].get("traceback", []))
                raise RuntimeError(f"kernel {self.id}: the cell failed:\n{trace}")
            elif kind == "status" and data["content"].get("execution_state") == "idle":
                idle = True
            elif data["channel"] == "shell" and kind.endswith("_reply"):
                reply, replied = data["content"], now
        return reply, result, arrived if result is not None else replied

    async def execute(self, code: str) -> tuple[str, float]:
        """Run a cell; (its result's ``text/plain``, when the result arrived)."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        reply, result, arrived = await self.request("execute_request", content)
        if reply.get("status") != "ok":
            raise RuntimeError(f"kernel {self.id}: execute_reply {reply}")
        return (result or {}).get("data", {}).get("text/plain", ""), arrived

    async def stop(self) -> None:
        """Shut the kernel down (once): before its cluster stops, so that its client does not
        try to reconnect meanwhile."""
        if self._conn is None:
            return
        self._conn.close()
        self._conn = None
        await self.server.request("DELETE", f"api/kernels/{self.id}")


async def run_cells(kernel: Kernel, inserted: str) -> tuple[float, float]:
    """The inserted cell, then the task; (inserted cell done, task result arrived)."""
    _, connected = await kernel.execute(inserted)
    value, result = await kernel.execute(TASK_CELL)
    if value != "2":
        raise RuntimeError(f"client.submit(inc, 1).result() gave {value!r}, not 2")
    return connected, result


def insertable(model: dict[str, Any]) -> bool:
    """The sidebar's ``canConnect`` (src/format.ts): running, or starting with a scheduler."""
    return model["state"] == "running" or (
        model["state"] == "starting" and bool(model.get("scheduler_address"))
    )


async def launcher_once(server: JupyterServer, stream: EventStream) -> dict[str, float | None]:
    kernel = await Kernel.start(server)
    try:
        await wait_until_quiet()
        async with launched_local(server, stream, WORKERS) as launch:
            cluster_id = launch.cluster_id
            ready, event = await stream.wait_for(
                cluster_event(cluster_id, insertable), launch.since, timeout=120
            )
            code, snippet = await server.request(
                "GET", f"dask-cluster-launcher/clusters/{cluster_id}/snippet?kernel={KERNEL}"
            )
            fetched = time.time()
            if code != 200 or not snippet.get("connect_code"):
                raise RuntimeError(f"GET clusters/{cluster_id}/snippet answered {code}: {snippet}")
            connected, result = await run_cells(kernel, snippet["connect_code"])
            await kernel.stop()
            address = event["cluster"]["scheduler_address"]
            security = launcher_security(cluster_id)
            joins, _ = await scheduler_record(address, launch.start, security)
    finally:
        await kernel.stop()
    found = {
        "answered": launch.answered,
        "insertable": ready,
        "inserted": fetched,
        "connected": connected,
        "first_join": joins[0] if joins else None,
        "result": result,
    }
    return {k: None if v is None else v - launch.start for k, v in found.items()}


async def labextension_once(server: JupyterServer) -> dict[str, float | None]:
    kernel = await Kernel.start(server)
    try:
        await wait_until_quiet()
        async with labextension_launched(server, WORKERS) as launch:
            assert launch.model is not None
            address = launch.model["scheduler_address"]
            connected, result = await run_cells(kernel, labextension_code(address))
            await kernel.stop()
            joins, _ = await scheduler_record(address, launch.start)
    finally:
        await kernel.stop()
    found = {
        "answered": launch.answered,
        "insertable": launch.answered,  # its sidebar lists the cluster with the PUT's answer
        "inserted": launch.answered,  # the code is built in the browser from that answer
        "connected": connected,
        "first_join": joins[0] if joins else None,
        "result": result,
    }
    return {k: None if v is None else v - launch.start for k, v in found.items()}


def step_lines(results: dict[str, list[dict[str, float | None]]]) -> list[str]:
    names = " | ".join(label for _, label in STEPS)
    lines = [f"| Run | {names} |", "|---|" + "---|" * len(STEPS)]
    for side, runs in results.items():
        cells = []
        for key, _ in STEPS:
            values = [v for r in runs if (v := r.get(key)) is not None]
            cells.append(seconds(Sample(values).median) if values else "-")
        lines.append(f"| First task, {side} | " + " | ".join(cells) + " |")
    return lines


async def run(repetitions: int = 5) -> tuple[list[Row], list[str]]:
    launcher = JupyterServer({"dask_cluster_launcher": True})
    labext = labextension_server(WORKERS)
    await launcher.start()
    await labext.start()
    stream = await launcher.events()
    ours: list[dict[str, float | None]] = []
    theirs: list[dict[str, float | None]] = []
    try:
        # one unmeasured run each: the server's first cluster, the snippet's kernel check
        await launcher_once(launcher, stream)
        await labextension_once(labext)
        for i in range(repetitions):
            for who in ("launcher", "labext") if i % 2 == 0 else ("labext", "launcher"):
                if who == "launcher":
                    ours.append(await launcher_once(launcher, stream))
                else:
                    theirs.append(await labextension_once(labext))
            print(
                f"  first task rep {i + 1}: launcher {ours[-1]['result']:.2f} s "
                f"(code insertable {ours[-1]['insertable']:.2f} s, cell done "
                f"{ours[-1]['connected']:.2f} s); dask-labextension "
                f"{theirs[-1]['result']:.2f} s (PUT {theirs[-1]['answered']:.2f} s)",
                flush=True,
            )
    finally:
        stream.close()
        await launcher.stop()
        await labext.stop()
    totals = [r["result"] or 0.0 for r in ours], [r["result"] or 0.0 for r in theirs]
    row = Row(
        "First task's result, local cluster with 2 workers",
        Sample(totals[0]),
        Sample(totals[1]),
        "dask-labextension `PUT`, its inserted `Client(address)`",
        "launch request -> `client.submit(inc, 1).result()` returned in a fresh kernel, after the "
        "inserted code ran there; each side in its own `python -m jupyter_server`; "
        + paired_note(*totals),
    )
    return [row], step_lines({"launcher": ours, "dask-labextension": theirs})


def main() -> None:
    from benchmarks.stats import TABLE_HEADER

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    rows, lines = asyncio.run(run(args.repetitions))
    print(TABLE_HEADER)
    print("\n".join(row.markdown() for row in rows))
    print("\nSeconds from the launch request (medians):\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
