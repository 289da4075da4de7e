"""The supervisor's side of a cluster host process (see ``host``): spawn, attach, talk, stop.

All calls are Dask RPC over TLS with the cluster's own credentials; nothing here blocks the
event loop (the credentials are written in a thread, the process is an asyncio subprocess).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..changes import ClusterPatch, Mirror
from ..private import ClusterFiles, make_private_dir, write_private_file
from .host_forker import ForkFailed, HostForker
from .records import HostSpec, Record, pid_alive, process_start_time, signal_process
from .spawn import start_host_process

SPAWN_TIMEOUT = 60.0


def _package_path(private_root: Path) -> str:
    """A private directory holding only this package (a link), for PYTHONPATH."""
    directory = private_root / "python"
    make_private_dir(directory)
    link = directory / "dask_cluster_launcher"
    package = Path(__file__).resolve().parent.parent
    if not link.is_symlink() or link.resolve() != package:
        link.unlink(missing_ok=True)
        link.symlink_to(package, target_is_directory=True)
    return str(directory)


class HostGone(Exception):
    """The host process exited or cannot be reached."""


class HostProcess:
    def __init__(
        self,
        control_address: str,
        files: ClusterFiles,
        pid: int,
        process: asyncio.subprocess.Process | None = None,
        *,
        started: float | None = None,
        dashboard_socket: str | None = None,
        dashboard_address: str | None = None,
    ) -> None:
        self.control_address = control_address
        self.files = files
        self.pid = pid
        #: The process's start time: signals go to ``pid`` only while it matches.
        self.started = started
        #: The scheduler's dashboard socket, when the host serves one (on its own machine).
        self.dashboard_socket = dashboard_socket
        #: Its dashboard's TLS listener, when it runs in a batch job (``dashboard_tunnel``).
        self.dashboard_address = dashboard_address
        self._process = process
        self._security = files.security()
        self._rpc: Any = None
        #: The host's model as of its last answer (``changes`` keeps it).
        self.mirror = Mirror()

    # --- starting and finding hosts ------------------------------------------------------------
    @staticmethod
    async def prepare(spec: HostSpec, files: ClusterFiles, log_path: Path) -> Path:
        """Write the cluster's credentials and its host's spec (in a thread: a stop cannot
        interrupt it, so whoever stops the cluster waits for this before removing its files);
        the spec's path."""
        spec_path = files.directory / "host.json"

        def write() -> None:
            files.create()
            write_private_file(spec_path, json.dumps(asdict(spec)))
            make_private_dir(log_path.parent.parent)
            log_path.parent.mkdir(mode=0o700, exist_ok=True)

        await asyncio.to_thread(write)
        return spec_path

    @classmethod
    async def spawn(
        cls, spec: HostSpec, files: ClusterFiles, log_path: Path, forker: HostForker | None = None
    ) -> HostProcess:
        """``prepare``, then ``launch``."""
        spec_path = await cls.prepare(spec, files, log_path)
        return await cls.launch(spec, spec_path, files, log_path, forker)

    @classmethod
    async def launch(
        cls,
        spec: HostSpec,
        spec_path: Path,
        files: ClusterFiles,
        log_path: Path,
        forker: HostForker | None = None,
    ) -> HostProcess:
        """Start the host from its prepared spec (forked from ``forker`` when it runs the same
        Python, else a new process) and wait until it listens. Once a process holds the spec it
        is starting a cluster: it is stopped through its control server, not killed (a killed
        host leaves its record and socket folders), so callers shield this from a stop."""
        python, env = spec.python or sys.executable, None
        if python != sys.executable:
            # another environment (a kernel's): it runs this package from its source, and its
            # own dask, distributed and dask-jobqueue
            package_path = await asyncio.to_thread(_package_path, Path(spec.private_root))
            inherited = os.environ.get("PYTHONPATH")
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [package_path, inherited])),
            }
        if forker is not None and env is None:
            try:
                forked = await forker.fork(spec_path, SPAWN_TIMEOUT)
            except (ForkFailed, TimeoutError) as exc:
                raise HostGone(f"the cluster host did not start (see {log_path})") from exc
            if forked is not None:
                return cls(
                    forked.answer["control"],
                    files,
                    forked.pid,
                    started=forked.started,
                    dashboard_socket=forked.answer.get("dashboard_socket"),
                )
        cwd = Path(spec.private_root)
        process = await start_host_process(python, [str(spec_path)], log_path, env, cwd)
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), SPAWN_TIMEOUT)
            answer = json.loads(line)
            control = answer["control"]
        except BaseException as exc:  # a timeout, or the server's loop closing
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
            if isinstance(exc, (asyncio.TimeoutError, ValueError, KeyError)):
                raise HostGone(f"the cluster host did not start (see {log_path})") from exc
            raise
        return cls(
            control,
            files,
            process.pid,
            process,
            # our child, not yet waited for: its pid cannot have been reused
            started=process_start_time(process.pid),
            dashboard_socket=answer.get("dashboard_socket"),
        )

    @classmethod
    def attach(cls, record: Record, files: ClusterFiles) -> HostProcess:
        return cls(
            record.control_address,
            files,
            record.pid,
            started=record.started,
            dashboard_socket=record.dashboard_socket,
            dashboard_address=record.dashboard_address,
        )

    # --- talking to it ----------------------------------------------------------------------------
    def _control(self) -> Any:
        if self._rpc is None:
            from distributed.core import rpc

            self._rpc = rpc(
                self.control_address,
                connection_args=self._security.get_connection_args("client"),
                timeout=5,  # to connect; a watch itself may take longer
            )
        return self._rpc

    async def changes(self, timeout: float = 30.0) -> ClusterPatch:
        """What changed in the host's model since ``mirror`` was last brought up to date, once
        something did (or after ``timeout``: then usually nothing). The host sends only that
        (the whole model the first time), and ``mirror`` follows."""
        try:
            answer = await self._control().watch(since=self.mirror.version, timeout=timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise HostGone(str(exc) or type(exc).__name__) from exc
        return self.mirror.apply(answer)

    async def rescale(self, scaling: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._control().rescale(scaling=scaling)
        except OSError as exc:
            raise HostGone(str(exc)) from exc

    def alive(self) -> bool:
        if self._process is not None:
            return self._process.returncode is None
        return pid_alive(self.pid, self.started)

    async def stop(self, timeout: float = 90.0) -> None:
        """Stop the cluster (its jobs cancelled by the host) and wait for the host to exit;
        terminate it if it does not answer."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._control().stop_cluster(), timeout)
        if not await self.exited(10.0):
            self.signal(signal.SIGTERM)
            if not await self.exited(timeout):
                self.signal(signal.SIGKILL)
                await self.exited(5.0)
        await self.disconnect()

    def signal(self, signum: int) -> None:
        """Signal the host: a child of ours directly, a host found by its record only while
        its pid still names the process that started then (see ``records.signal_process``)."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signum)
            return
        signal_process(self.pid, self.started, signum)

    async def exited(self, timeout: float) -> bool:
        """Whether the host process exits within ``timeout`` seconds."""
        if self._process is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._process.wait(), timeout)
            return self._process.returncode is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pid_alive(self.pid, self.started) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        return not pid_alive(self.pid, self.started)

    async def disconnect(self) -> None:
        if self._rpc is not None:
            with contextlib.suppress(Exception):
                await self._rpc.close_rpc()
            self._rpc = None
