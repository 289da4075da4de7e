"""The host forker's own loop: one warmed-up process per Jupyter server (per private directory)
from which every cluster host on that machine is forked.

A host that starts as a new Python imports distributed, tornado and the launcher again: 40-45 MB
of heap that is its own, for every cluster. Forked from one process that made those imports
once, every host shares them with the forker and with each other until it writes to a page, and
a launch skips Python's start-up and imports too. The forker forks multiprocessing's resource
tracker once (``worker_forkserver.fork_resource_tracker``): every host it forks holds that
tracker's pipe, as a spawned worker does.

The protocol, one line per message:

- the supervisor writes a host spec's path to the forker's input; an end of input means it went
  away (the forker then exits, and the hosts it forked run on: they are followed by their
  records);
- the forker forks a host for it (single-threaded: it starts no thread nor event loop) and writes
  ``{"spec": PATH, "pid": PID, "started": START}`` to its output (``started``: the process's
  start time in ``/proc``, read while it is the forker's unreaped child, so its pid cannot have
  been reused);
- the host writes its answer to a pipe of its own once it listens, and the forker passes it on
  as ``{"spec": PATH, "control": ADDRESS, ...}``;
- the forker writes ``{"spec": PATH, "exited": CODE}`` when it reaps a host (one that exited
  before its answer did not start).

Only the forker holds its input and output (its hosts and their helpers hold ``/dev/null``):
the supervisor sees their end as soon as the forker exits.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import select
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from .records import process_start_time

#: What the host answers with once it listens (``ClusterHost.announce``).
Announce = Callable[[dict[str, Any]], None]
#: Runs one host from its spec's path until it stops (``start.run_host``).
RunHost = Callable[[str, Announce], None]


def write_line(message: dict[str, Any]) -> None:
    """One JSON line on standard output, in a single ``write``."""
    data = (json.dumps(message) + "\n").encode()
    with contextlib.suppress(BrokenPipeError):  # the supervisor went away
        os.write(1, data)


def serve_forks(run_host: RunHost) -> None:
    """Fork a host for each spec path read from standard input until it ends."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    # SIGCHLD wakes the loop (through the pipe) to reap a host that exited
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    children: dict[int, str] = {}
    answers: dict[int, str] = {}  # a pipe a host answers on -> its spec path
    pending = b""
    while True:
        ready, _, _ = select.select([0, wake_read, *answers], [], [])
        if wake_read in ready:
            os.read(wake_read, 512)
        for fd in set(ready).intersection(answers):
            pass_answer_on(fd, answers.pop(fd))
        reap(children)
        if 0 not in ready:
            continue
        data = os.read(0, 4096)
        if not data:
            return  # the supervisor went away
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            spec_path = line.decode(errors="replace").strip()
            if spec_path:
                pid, answer = fork_host(spec_path, run_host, (wake_read, wake_write, *answers))
                children[pid] = spec_path
                answers[answer] = spec_path
                write_line({"spec": spec_path, "pid": pid, "started": process_start_time(pid)})


def pass_answer_on(fd: int, spec_path: str) -> None:
    """The host's answer line (one ``write``, so one read gets it), to the supervisor; then the
    pipe is done with (the host's own children hold its other end for as long as they run)."""
    try:
        line = os.read(fd, 4096)
    finally:
        os.close(fd)
    with contextlib.suppress(ValueError):
        write_line({**json.loads(line), "spec": spec_path})


def reap(children: dict[int, str]) -> None:
    """Wait for every child that exited; say so for the hosts."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        spec_path = children.pop(pid, None)
        if spec_path is not None:
            write_line({"spec": spec_path, "exited": os.waitstatus_to_exitcode(status)})


def fork_host(spec_path: str, run_host: RunHost, forkers_own: tuple[int, ...]) -> tuple[int, int]:
    """Fork a host for the spec at ``spec_path``; its pid, and the pipe it answers on (both in
    the forker). ``forkers_own``: descriptors the host closes (the forker's wake-up pipe, the
    pipes other hosts answer on)."""
    gc.freeze()  # the host's garbage collections leave the shared pages unwritten
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
        with contextlib.suppress(Exception):
            stream.flush()
    answer_read, answer_write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(answer_write)
        return pid, answer_read
    code = 1
    try:  # the host: never returns into the forker's loop
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (*forkers_own, answer_read):
            os.close(fd)
        # the forker's input and output are the supervisor's: the host and the processes it
        # starts hold neither (the supervisor sees the forker's end when it exits)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        # its own session, as a host started by the supervisor: a signal for the forker's
        # process group does not reach it
        os.setsid()

        def announce(answer: dict[str, Any]) -> None:
            with contextlib.suppress(BrokenPipeError):
                os.write(answer_write, (json.dumps(answer) + "\n").encode())
            os.close(answer_write)

        run_host(spec_path, announce)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        # what the interpreter's exit would do (a forked child never returns to it): the exit
        # functions (multiprocessing's ends leftover worker processes), then the streams
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
