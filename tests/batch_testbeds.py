"""Pytest plugin: real single-host SLURM and Grid Engine test beds.

Load it from ``tests/conftest.py`` with::

    pytest_plugins = ["tests.batch_testbeds"]

(needs ``tests/__init__.py``; pytest puts the repository root on ``sys.path`` then), or on the
command line with ``python -m pytest -p tests.batch_testbeds ...`` from the repository root.

Session-scoped fixtures
-----------------------
``slurm_testbed`` / ``sge_testbed``
    Make sure the daemons run (``testbeds/start-slurm.sh`` / ``testbeds/start-sge.sh``, which are
    idempotent: a running, correctly configured test bed is left alone and its jobs survive) and
    yield a :class:`Testbed`. At session end the daemons are stopped again only if this session
    started them (set ``DCL_KEEP_TESTBEDS=1`` to keep them running anyway).
    Missing daemon binaries FAIL the test (no skip): run ``testbeds/install.sh`` (as root).

The SLURM test bed has partitions ``debug`` (default, no time limit) and ``short``
(MaxTime 00:30:00); the Grid Engine one has queues ``all.q`` (no h_rt limit) and ``short.q``
(h_rt 0:30:0) and the parallel environment ``smp``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dask_cluster_launcher.backends.batch.dask_config import launcher_systems
from testbeds.control import pid_alive, testbed_lock

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTBEDS_DIR = REPO_ROOT / "testbeds"
INSTALL_HINT = "run `sudo testbeds/install.sh` (Debian 12) to install the batch systems"
KEEP_ENV = "DCL_KEEP_TESTBEDS"

SLURM_PIDFILE = Path("/var/lib/slurm-local/slurmctld.pid")
SGE_QMASTER_PIDFILE = Path("/var/spool/gridengine/qmaster/qmaster.pid")
SGE_ENV = {"SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default"}
#: Every batch system the launcher has a backend for (the registry's; each backend is named
#: after its system). Tests that run once per system take its test bed from the fixture
#: ``<system>_testbed``: a system registered without one fails there until it has one.
BATCH_SYSTEMS = launcher_systems()


@dataclass(frozen=True)
class QueuedJob:
    """One job as the batch system lists it."""

    job_id: str
    name: str
    state: str  # SLURM: PENDING/RUNNING/COMPLETING/...; SGE: qw/r/t/Eqw/dr/...


@dataclass
class Testbed:
    """A running local batch system.

    ``env`` holds the environment variables clients need (merged into ``os.environ`` for the
    session by the fixture, so in-process code such as dask-jobqueue sees them too).
    """

    __test__ = False  # not a test class (the name starts with "Test")

    kind: str  # "slurm" | "sge"
    env: dict[str, str]
    queues: list[str]  # SLURM partitions / SGE cluster queues; the first one is the default
    short_queue: str  # the queue with a 30 min walltime limit
    started_here: bool = False
    start_seconds: float | None = None
    log_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def default_queue(self) -> str:
        return self.queues[0]

    # -- commands ---------------------------------------------------------------------------
    def run(self, cmd: list[str], check: bool = True, timeout: float = 60):
        """Run a client command (sbatch, squeue, qstat, qconf, ...) with the test bed env."""
        return subprocess.run(
            cmd,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def queue_jobs(self, name_prefix: str | None = None) -> list[QueuedJob]:
        """Jobs currently known to the queue (pending, running, completing), all users."""
        if self.kind in ("slurm", "pbs"):  # the PBS test bed's jobs are SLURM jobs
            out = self.run(["squeue", "-h", "-o", "%i|%T|%j"]).stdout
            jobs = []
            for line in out.splitlines():
                if not line.strip():
                    continue
                job_id, state, name = line.split("|", 2)
                jobs.append(QueuedJob(job_id.strip(), name, state.strip()))
        elif self.kind == "lsf":  # unfinished jobs (PEND, PSUSP, RUN, ...)
            out = self.run(["bjobs", "-u", "all", "-o", "jobid job_name stat", "-json"]).stdout
            records = json.loads(out)["RECORDS"]
            jobs = [QueuedJob(r["JOBID"], r["JOB_NAME"], r["STAT"]) for r in records]
        elif self.kind == "htcondor":  # I(dle), R(unning), H(eld), X (removed, ending)
            attributes = "ClusterId,ProcId,JobBatchName,JobStatus"
            out = self.run(["condor_q", "-allusers", "-json", "-attributes", attributes]).stdout
            letters = {1: "I", 2: "R", 3: "X", 4: "C", 5: "H"}
            jobs = [
                QueuedJob(
                    f"{a['ClusterId']}.{a['ProcId']}", a["JobBatchName"], letters[a["JobStatus"]]
                )
                for a in (json.loads(out) if out.strip() else [])
            ]
        else:
            out = self.run(["qstat", "-xml", "-u", "*"]).stdout
            jobs = [
                QueuedJob(
                    el.findtext("JB_job_number", "").strip(),
                    el.findtext("JB_name", ""),
                    el.findtext("state", "").strip(),
                )
                for el in ET.fromstring(out).iter("job_list")
            ]
        if name_prefix is not None:
            jobs = [j for j in jobs if j.name.startswith(name_prefix)]
        return jobs

    def queue_job_ids(self, name_prefix: str | None = None) -> list[str]:
        """Ids of the jobs currently in the queue (optionally only names starting with prefix)."""
        return [j.job_id for j in self.queue_jobs(name_prefix)]

    def wait_queue_empty(
        self, timeout: float = 60, name_prefix: str | None = None, interval: float = 0.2
    ) -> float:
        """Wait until no (matching) job is left; returns the seconds waited.

        Raises ``TimeoutError`` listing the remaining jobs.
        """
        t0 = time.monotonic()
        while True:
            jobs = self.queue_jobs(name_prefix)
            if not jobs:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"{self.kind} queue not empty after {timeout} s: {jobs}")
            time.sleep(interval)

    def cancel(self, job_ids: list[str]) -> None:
        """Cancel/delete jobs (errors for jobs that are already gone are ignored)."""
        if job_ids:
            pbs_qdel = os.path.join(self.extra.get("bin", ""), "qdel")  # not Grid Engine's
            cmd = {
                "slurm": ["scancel"],
                "lsf": ["bkill"],
                "htcondor": ["condor_rm"],
                "pbs": [pbs_qdel],
            }.get(self.kind, ["qdel", "-f"])
            self.run([*cmd, *job_ids], check=False)


# -- helpers ---------------------------------------------------------------------------------


def _require(kind: str, paths: list[str]) -> None:
    missing = [p for p in paths if not (os.path.exists(p) or shutil.which(p))]
    if missing:
        pytest.fail(
            f"{kind} test bed: missing {', '.join(missing)} - {INSTALL_HINT}", pytrace=False
        )


def _run_script(name: str, log_path: Path, timeout: float) -> tuple[int, str]:
    # Output goes to a file, not a pipe: the daemons started by the script must not hold
    # a pipe of ours open. New session so that a Ctrl-C of pytest does not reach them.
    with open(log_path, "ab") as log:
        try:
            rc = subprocess.run(
                [str(TESTBEDS_DIR / name)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                timeout=timeout,
            ).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    return rc, log_path.read_text(errors="replace")


@contextlib.contextmanager
def _testbed(kind: str, start_script: str, stop_script: str, was_running, make) -> Iterator:
    log_fd, log_name = tempfile.mkstemp(prefix=f"dcl-testbed-{kind}-", suffix=".log")
    os.close(log_fd)
    log_path = Path(log_name)
    with testbed_lock(kind):
        running_before = was_running()
        t0 = time.monotonic()
        # The start script is idempotent: it only (re)applies the configuration when the
        # daemons already run, so it is always called (a test bed started by an older script
        # version gets the queues the tests expect).
        rc, out = _run_script(start_script, log_path, timeout=180)
        elapsed = time.monotonic() - t0
    if rc != 0:
        pytest.fail(
            f"{kind} test bed: testbeds/{start_script} failed (exit {rc}); log {log_path}:\n"
            f"{out[-4000:]}",
            pytrace=False,
        )
    bed = make(log_path)
    bed.started_here = not running_before
    bed.start_seconds = elapsed
    saved = {k: os.environ.get(k) for k in bed.env}
    os.environ.update(bed.env)
    try:
        yield bed
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if bed.started_here and not os.environ.get(KEEP_ENV):
            with testbed_lock(kind):
                _run_script(stop_script, log_path, timeout=120)


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def slurm_testbed() -> Iterator[Testbed]:
    """Single-node SLURM (partitions ``debug`` default + ``short`` MaxTime 30 min)."""
    _require(
        "SLURM",
        [
            "/usr/sbin/slurmctld",
            "/usr/sbin/slurmd",
            "/usr/sbin/munged",
            "sbatch",
            "squeue",
            "scancel",
            "sinfo",
        ],
    )

    def was_running() -> bool:
        return pid_alive(SLURM_PIDFILE)

    def make(log_path: Path) -> Testbed:
        return Testbed(
            kind="slurm",
            env={"SLURM_CONF": "/etc/slurm/slurm.conf"},
            queues=["debug", "short"],
            short_queue="short",
            log_path=log_path,
        )

    with _testbed("slurm", "start-slurm.sh", "stop-slurm.sh", was_running, make) as bed:
        yield bed


@pytest.fixture(scope="session")
def sge_testbed() -> Iterator[Testbed]:
    """Single-host Son of Grid Engine (queues ``all.q`` + ``short.q`` h_rt 30 min, PE ``smp``)."""
    _require(
        "Grid Engine",
        ["/usr/sbin/sge_qmaster", "/usr/sbin/sge_execd", "qsub", "qstat", "qdel", "qconf"],
    )

    def was_running() -> bool:
        return pid_alive(SGE_QMASTER_PIDFILE)

    def make(log_path: Path) -> Testbed:
        return Testbed(
            kind="sge",
            env=dict(SGE_ENV),
            queues=["all.q", "short.q"],
            short_queue="short.q",
            log_path=log_path,
            extra={"pe": "smp"},
        )

    with _testbed("sge", "start-sge.sh", "stop-sge.sh", was_running, make) as bed:
        yield bed


@pytest.fixture(scope="session")
def lsf_testbed() -> Iterator[Testbed]:
    """The LSF emulator (testbeds/start-lsf.sh: queues ``normal`` default + ``short`` with a
    30 min run limit, one host with 16 slots); nothing to stop afterwards."""

    def make(log_path: Path) -> Testbed:
        bin_dir = log_path.read_text().split()[-1]  # the script's last line
        conf = str(Path(bin_dir).parent / "conf")
        path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
        return Testbed(
            kind="lsf",
            env={"PATH": path, "LSF_ENVDIR": conf},
            queues=["normal", "short"],
            short_queue="short",
            log_path=log_path,
        )

    with _testbed("lsf", "start-lsf.sh", "start-lsf.sh", lambda: True, make) as bed:
        yield bed


@pytest.fixture(scope="session")
def pbs_testbed(slurm_testbed: Testbed) -> Iterator[Testbed]:
    """PBS/Torque commands over the SLURM test bed (testbeds/start-pbs.sh: Debian's
    slurm-wlm-torque wrappers in a private prefix, which the PBS backend finds through
    ``DCL_PBS_PATH``); queues are the SLURM partitions. Nothing to stop afterwards."""

    def make(log_path: Path) -> Testbed:
        bin_dir = log_path.read_text().split()[-1]  # the script's last line
        return Testbed(
            kind="pbs",
            env={"DCL_PBS_PATH": bin_dir},
            queues=["debug", "short"],
            short_queue="short",
            log_path=log_path,
            extra={"bin": bin_dir},
        )

    with _testbed("pbs", "start-pbs.sh", "start-pbs.sh", lambda: True, make) as bed:
        yield bed


@pytest.fixture(scope="session")
def htcondor_testbed() -> Iterator[Testbed]:
    """The HTCondor emulator (testbeds/start-htcondor.sh: one partitionable slot with 16 CPUs,
    no queues); nothing to stop afterwards."""

    def make(log_path: Path) -> Testbed:
        bin_dir = log_path.read_text().split()[-1]  # the script's last line
        config = str(Path(bin_dir).parent / "condor_config")
        path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
        return Testbed(
            kind="htcondor",
            env={"PATH": path, "CONDOR_CONFIG": config},
            queues=[],
            short_queue="",
            log_path=log_path,
        )

    with _testbed("htcondor", "start-htcondor.sh", "start-htcondor.sh", lambda: True, make) as bed:
        yield bed
