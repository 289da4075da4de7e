"""The supervisor's side of the host forker (see ``fork_hosts``): one warmed-up process per
private directory, started when the server starts, from which each launch forks its host.

Every host forked from it shares the forker's imports (40-45 MB) until it writes to them, where
a host started as a new Python has its own copy; and a launch skips Python's start-up and
imports (a second or more on a busy login node). The forker exits when the supervisor goes away
(the end of its input); the hosts it forked are in sessions of their own and run on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..private import make_private_dir
from .records import signal_process
from .spawn import FORKER_ARGS, start_host_process


@dataclass(frozen=True)
class ForkedHost:
    """A host the forker forked, listening: its pid, start time and answer."""

    pid: int
    started: float | None
    answer: dict[str, Any]


class ForkFailed(Exception):
    """The forked host exited, or did not answer in time (it was then killed)."""


class HostForker:
    """One forker process (started by ``ensure_running``) and the launches waiting on it."""

    def __init__(self, private_root: Path) -> None:
        self.private_root = private_root
        self.log_path = private_root / "logs" / "host-forker.log"
        self._process: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        #: spec path -> the messages about its host (see ``fork_hosts``)
        self._launches: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._closed = False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def ensure_running(self) -> None:
        """Start the forker unless it runs or is starting (or the supervisor is closing)."""
        starting = self._starting is not None and not self._starting.done()
        if not (self.running or starting or self._closed):
            self._starting = asyncio.ensure_future(self._start())

    async def _start(self) -> None:
        await asyncio.to_thread(make_private_dir, self.log_path.parent)
        process = await start_host_process(
            sys.executable, FORKER_ARGS, self.log_path, None, self.private_root
        )
        self._process = process
        self._reader = asyncio.ensure_future(self._read(process))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        """Hand each line of the forker's output to the launch it is about."""
        assert process.stdout is not None
        while line := await process.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                continue  # not the forker's (a library printing): never a reason to stop
            spec = message.get("spec") if isinstance(message, dict) else None
            queue = self._launches.get(spec) if isinstance(spec, str) else None
            if queue is not None:
                queue.put_nowait(message)
        for queue in self._launches.values():  # the forker (and every host on it) let go
            queue.put_nowait({"exited": None})

    async def fork(self, spec_path: Path, timeout: float) -> ForkedHost | None:
        """Fork a host for the spec at ``spec_path`` and wait until it listens; None when no
        forker runs (one is then started for the next launch): start the host another way."""
        process = self._process
        if process is None or process.returncode is not None or process.stdin is None:
            self.ensure_running()
            return None
        key = str(spec_path)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._launches[key] = queue
        pid: int | None = None
        started: float | None = None
        try:
            try:
                process.stdin.write(f"{key}\n".encode())
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                return None
            async with asyncio.timeout(timeout):
                while True:
                    message = await queue.get()
                    if "pid" in message:
                        pid, started = message["pid"], message.get("started")
                    elif "control" in message and pid is not None:
                        return ForkedHost(pid, started, message)
                    elif "exited" in message:
                        raise ForkFailed(f"the host exited with code {message['exited']}")
        except BaseException:  # a timeout, or the server's loop closing
            if pid is not None and started is not None:
                signal_process(pid, started, signal.SIGKILL)
            raise
        finally:
            del self._launches[key]

    async def close(self) -> None:
        """Stop the forker (the end of its input); the hosts it forked run on."""
        self._closed = True
        if self._starting is not None:
            # a forker being started is let start (a process spawn: milliseconds), then
            # stopped; cancelling the spawn could leave its process unowned
            await asyncio.wait({self._starting})
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self._reader is not None:
            self._reader.cancel()
