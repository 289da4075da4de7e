"""What the LSF and HTCondor emulators share: a spool of jobs that really run.

No daemon: every emulated command takes the spool's lock, starts the pending jobs that fit on
the (one, emulated) host, and answers from the job records. A started job runs under a small
shepherd process (LSF calls its own ``res``, HTCondor ``condor_starter``) in a session of its
own, as the user who submitted it, with the environment of the submission. The shepherd
enforces the run limit, delivers a kill as the batch systems do (SIGINT, SIGTERM, then SIGKILL
after ``TERMINATE_INTERVAL``; LSF's ``JOB_TERMINATE_INTERVAL`` defaults to 10 s) and records
the exit status.

Each user has a spool of their own (``<root>/<uid>``, 0700), so the emulators list and kill
only the caller's jobs, as ``bjobs``/``condor_q`` do by default.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: seconds between the signals of a kill (SIGINT, SIGTERM, SIGKILL)
TERMINATE_INTERVAL = 10.0
#: job states, named by each emulator in its own words
PENDING, HELD, RUNNING, DONE, EXITED = "pending", "held", "running", "done", "exited"
UNFINISHED = (PENDING, HELD, RUNNING)

Job = dict[str, Any]


class Spool:
    """One user's job records: ``<root>/<uid>/<id>/job.json``, ``next_id``, ``lock``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.path = Path(root) / str(os.getuid())
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with open(self.path / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def next_id(self, first: int = 1) -> int:
        counter = self.path / "next_id"
        number = int(counter.read_text()) if counter.exists() else first
        counter.write_text(str(number + 1))
        return number

    def job_dir(self, job_id: int) -> Path:
        return self.path / str(job_id)

    def save(self, job: Job) -> None:
        folder = self.job_dir(job["id"])
        folder.mkdir(mode=0o700, exist_ok=True)
        temporary = folder / "job.json.new"
        temporary.write_text(json.dumps(job))
        temporary.replace(folder / "job.json")

    def load(self, job_id: int) -> Job | None:
        try:
            return dict(json.loads((self.job_dir(job_id) / "job.json").read_text()))
        except (OSError, ValueError):
            return None

    def jobs(self) -> list[Job]:
        found = []
        for entry in self.path.iterdir():
            if entry.name.isdigit() and (job := self.load(int(entry.name))):
                found.append(job)
        return sorted(found, key=lambda job: job["id"])


def new_job(spool: Spool, job_id: int | None = None, **fields: Any) -> Job:
    """A pending job record (``fields``: name, queue, slots, command, ...), saved; its id the
    spool's next one unless given (taken with ``spool.next_id()`` under the same lock)."""
    job: Job = {
        "id": spool.next_id() if job_id is None else job_id,
        "user": _user(),
        "state": HELD if fields.pop("held", False) else PENDING,
        "submit_time": time.time(),
        "start_time": None,
        "end_time": None,
        "exit_status": None,
        "pid": None,
        "run_limit": None,
        "slots": 1,
        "reason": None,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "stdout": None,
        "stderr": None,
        **fields,
    }
    spool.save(job)
    return job


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def used_slots(jobs: list[Job]) -> int:
    return sum(job["slots"] for job in jobs if job["state"] == RUNNING)


def dispatch(spool: Spool, slots: int, why_not: Callable[[Job], str | None]) -> None:
    """Start the pending jobs that fit, oldest first (call with the spool locked).

    ``why_not(job)``: the reason a job cannot run on the host at all (its resource
    requirements), or ``None``; a job that fits but finds no free slots waits for them."""
    jobs = spool.jobs()
    free = slots - used_slots(jobs)
    for job in jobs:
        if job["state"] != PENDING:
            continue
        reason = why_not(job)
        if reason is None and job["slots"] > free:
            reason = "slots"
        if reason is not None:
            if job["reason"] != reason:
                job["reason"] = reason
                spool.save(job)
            continue
        free -= job["slots"]
        _start(spool, job)


def _start(spool: Spool, job: Job) -> None:
    job.update(state=RUNNING, start_time=time.time(), reason=None)
    spool.save(job)
    shepherd = [sys.executable, "-m", __name__, "shepherd", str(spool.path), str(job["id"])]
    process = subprocess.Popen(
        shepherd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    job["shepherd"] = process.pid
    spool.save(job)


def kill(spool: Spool, job: Job, exit_status: int = 130) -> None:
    """End a job: a pending or held one at once, a running one through its shepherd (call
    with the spool locked)."""
    if job["state"] in (PENDING, HELD):
        job.update(state=EXITED, end_time=time.time(), exit_status=exit_status, killed=True)
        spool.save(job)
    elif job["state"] == RUNNING and not job.get("killed"):
        job["killed"] = True
        spool.save(job)
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(job["shepherd"], signal.SIGUSR1)


def reap_lost(spool: Spool) -> None:
    """Jobs whose shepherd is gone without a word (machine restarted) end as exited."""
    for job in spool.jobs():
        if job["state"] == RUNNING and job.get("shepherd") and not _alive(job["shepherd"]):
            job.update(state=EXITED, end_time=time.time(), exit_status=job["exit_status"] or 1)
            spool.save(job)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours (a shepherd this process started) counts as gone
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


# --- the shepherd ----------------------------------------------------------------------------
def shepherd(spool_path: str, job_id: int) -> int:
    """Run one job to its end: its command in a session of its own, its run limit, kills."""
    spool = Spool.__new__(Spool)
    spool.path = Path(spool_path)
    job = spool.load(job_id)
    assert job is not None
    killed: dict[str, float | None] = {"at": None}

    def on_kill(*_: Any) -> None:
        killed["at"] = killed["at"] or time.monotonic()

    signal.signal(signal.SIGUSR1, on_kill)
    stdout = _output(job["stdout"])
    stderr = _output(job["stderr"]) if job["stderr"] else subprocess.STDOUT
    env = {**job["env"], **job.get("job_env", {})}
    try:
        process = subprocess.Popen(
            job["command"],
            cwd=job["cwd"] if os.path.isdir(job["cwd"]) else "/",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    except OSError as exc:
        _finish(spool, job_id, 127, f"{exc.strerror}: {job['command'][0]}")
        return 0
    job["pid"] = process.pid
    with spool.locked():
        current = spool.load(job_id) or job
        current["pid"] = process.pid
        spool.save(current)
        if current.get("killed"):
            on_kill()
    started = time.monotonic()
    sent: list[int] = []
    names = job.get("kill_signals") or ["SIGINT", "SIGTERM", "SIGKILL"]
    signals = [getattr(signal, name) for name in names]
    ran_out = False
    while process.poll() is None:
        time.sleep(0.1)
        limit = job["run_limit"]
        if limit is not None and not killed["at"] and time.monotonic() - started > limit:
            ran_out = True
            on_kill()
        if killed["at"]:
            # LSF: SIGINT, SIGTERM, then SIGKILL; HTCondor: SIGTERM, then SIGKILL
            due = 1 + int((time.monotonic() - killed["at"]) // TERMINATE_INTERVAL)
            for sig in signals[len(sent) : due]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                sent.append(sig)
    code = process.returncode
    status = 128 - code if code < 0 else code
    note = "run limit" if ran_out else ("killed" if killed["at"] else None)
    _finish(spool, job_id, status, note)
    return 0


def _output(path: str | None) -> Any:
    if not path:
        return subprocess.DEVNULL
    with contextlib.suppress(OSError):
        return open(path, "ab")
    return subprocess.DEVNULL


def _finish(spool: Spool, job_id: int, status: int, note: str | None) -> None:
    with spool.locked():
        job = spool.load(job_id)
        if job is None:
            return
        state = DONE if status == 0 and note is None else EXITED
        job.update(state=state, end_time=time.time(), exit_status=status, end_note=note)
        spool.save(job)
    finished = job.get("on_finish")
    if finished:  # the emulator's own epilogue (LSF's job report)
        module, _, function = finished.partition(":")
        getattr(__import__(module, fromlist=[function]), function)(job)


if __name__ == "__main__":
    if sys.argv[1:2] == ["shepherd"]:
        sys.exit(shepherd(sys.argv[2], int(sys.argv[3])))
    sys.exit("usage: python -m dask_cluster_launcher.testing.batch_emulator shepherd SPOOL ID")


def write_commands(
    bin_dir: Path, module: str, commands: tuple[str, ...] | list[str], env_name: str, env_value: str
) -> Path:
    """Write one small shell script per command into ``bin_dir``, each running
    ``python -m module command ARGS`` with ``env_name`` (where the site's configuration lives,
    as LSF_ENVDIR or CONDOR_CONFIG do on a real site) defaulted to ``env_value``."""
    for command in commands:
        script = bin_dir / command
        script.write_text(
            "#!/bin/sh\n"
            f': "${{{env_name}:={env_value}}}"\nexport {env_name}\n'
            f'exec {shlex.quote(sys.executable)} -m {module} {command} "$@"\n'
        )
        script.chmod(0o755)
    return bin_dir


def usage_error(argv: list[str], module: str, commands: tuple[str, ...] | list[str]) -> str | None:
    """What to say when ``argv`` names no command of the emulator (None when it does)."""
    if not argv or argv[0] not in commands:
        return f"usage: {module} install DIR | {' | '.join(commands)} ARGS"
    return None
