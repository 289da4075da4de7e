"""Local worker processes forked from a copy of the host that has already imported distributed.

distributed starts each worker process of a ``LocalCluster`` with multiprocessing's ``spawn``: a
new Python that imports distributed again, 1-3 s of CPU per worker on a busy login node (most of
a launch), and N of them at once for N workers. multiprocessing's ``forkserver`` method instead
forks each worker from a server process; its own server is a new Python that imports its preload
modules (once per host, but still a second of imports, and memory of its own).
:func:`fork_worker_server` makes that server by forking the host itself, before the host starts
any thread or event loop: the server has the host's imports already (shared pages, no import)
and each worker forked from it starts in tens of milliseconds. ``ps`` names the server and the
workers ``dclw<cluster id>``.

This sets multiprocessing's private ``ForkServer`` fields (``_forkserver_address``,
``_forkserver_alive_fd``, ``_forkserver_pid``), as ``ForkServer.ensure_running`` does after its
own start; ``ensure_running`` then sees a running server. Where that does not hold (threads
running already, a socket path too long) workers are spawned as before.

multiprocessing's resource tracker (it unlinks the named semaphores of the workers' queues if a
host dies without doing so) is a new Python too, 6-7 MB PSS per host:
:func:`fork_resource_tracker` forks it from the host as well (its imported pages shared, well
under 1 MB of its own), and sets ``ResourceTracker``'s ``_fd`` and ``_pid`` as its
``ensure_running`` does after a start.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("dask_cluster_launcher.hosting.worker_forkserver")

#: The longest Unix socket path the kernel takes (``sun_path``), less the terminating NUL.
MAX_SOCKET_PATH = 107


def fork_worker_server(folder: Path, name: str) -> bool:
    """Fork this process into the fork server its local worker processes start from (its socket
    in a new 0700 folder under ``folder``, a private one), and make distributed use it. False:
    nothing done (threads already run here, or the path is too long): workers are spawned."""
    if threading.active_count() > 1 or not hasattr(os, "fork"):
        return False
    from multiprocessing import connection, current_process, forkserver, resource_tracker

    import dask
    import distributed.utils

    private_tmp = tempfile.mkdtemp(prefix="pymp-", dir=folder)  # 0700
    current_process()._config["tempdir"] = private_tmp  # type: ignore[attr-defined]
    address = connection.arbitrary_address("AF_UNIX")  # type: ignore[attr-defined]
    if len(os.fsencode(address)) > MAX_SOCKET_PATH:
        os.rmdir(private_tmp)
        del current_process()._config["tempdir"]  # type: ignore[attr-defined]
        return False
    fork_resource_tracker(f"dclr{name}")  # unless the host forker forked it already
    resource_tracker.ensure_running()  # every worker gets its descriptor, as with spawn
    gc.freeze()  # the server's garbage collections leave the shared pages unwritten
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(address)
        os.chmod(address, 0o600)
        listener.listen()
        alive_r, alive_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the server: never returns into the host's code
            code = 1
            try:
                os.close(alive_w)
                with contextlib.suppress(OSError):
                    Path("/proc/self/comm").write_text(f"dclw{name}"[:15], encoding="ascii")
                forkserver.main(listener.fileno(), alive_r, [])
                code = 0
            except SystemExit as stop:  # the host went away (its end of the pipe closed)
                code = stop.code if isinstance(stop.code, int) else 0
            finally:
                os._exit(code)
        os.close(alive_r)
    server: Any = forkserver._forkserver
    server._forkserver_address = address
    server._forkserver_alive_fd = alive_w
    server._forkserver_pid = pid
    dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    distributed.utils._forkserver_preload_set = True  # the server has its imports already
    log.info("worker processes fork from %d", pid)
    return True


def fork_resource_tracker(name: str) -> bool:
    """Fork this process into multiprocessing's resource tracker (``ps`` names it ``name``), as
    ``resource_tracker.ensure_running`` would start a new Python for it. False: nothing done (a
    tracker runs already, or threads run here: forking them is unsafe)."""
    from multiprocessing import resource_tracker

    tracker: Any = resource_tracker._resource_tracker
    if tracker._fd is not None or threading.active_count() > 1 or not hasattr(os, "fork"):
        return False
    gc.freeze()  # the tracker's garbage collections leave the shared pages unwritten
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
        with contextlib.suppress(Exception):
            stream.flush()
    read_end, write_end = os.pipe()
    # as ensure_running does: SIGINT/SIGTERM wait until the tracker ignores them (its main)
    ignored = {signal.SIGINT, signal.SIGTERM}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ignored)
    pid = os.fork()
    if pid == 0:  # the tracker: never returns into the host's code
        code = 1
        try:
            close_all_but(2, read_end)  # what a spawned tracker is given, less the streams
            null = os.open(os.devnull, os.O_RDWR)  # that its parent may be read to their end
            for fd in (0, 1):
                if fd != null:
                    os.dup2(null, fd)
            with contextlib.suppress(OSError):
                Path("/proc/self/comm").write_text(name[:15], encoding="ascii")
            resource_tracker.main(read_end)  # until every holder of write_end closed it
            code = 0
        finally:
            os._exit(code)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    os.close(read_end)
    tracker._fd = write_end
    tracker._pid = pid
    log.info("resource tracker %d forked", pid)
    return True


def stop_resource_tracker() -> None:
    """A host that starts no worker processes lets go of the tracker: one it forked itself,
    idle, would keep the original of every page the host writes (30 MB with 100 thread
    workers); the host forker's stays for the other hosts. Should one be needed after all,
    multiprocessing starts a new one."""
    from multiprocessing import resource_tracker

    tracker: Any = resource_tracker._resource_tracker
    stop = getattr(tracker, "_stop", None)  # private, as the fields set above
    if tracker._fd is not None and stop is not None:
        with contextlib.suppress(OSError, ChildProcessError):
            stop()  # closes its pipe (only this host holds it) and waits for it


def close_all_but(*kept: int) -> None:
    """Close every file descriptor of this process except ``kept`` (Linux: those /proc lists)."""
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc/self/fd"):
            if int(entry) not in kept:
                with contextlib.suppress(OSError):  # the listing's own descriptor is gone
                    os.close(int(entry))
