"""Time to N workers on the local SLURM and Grid Engine test beds: the launcher's
``POST clusters`` until the event with N running workers, against plain dask-jobqueue
(``SLURMCluster(...)``/``SGECluster(...)``, ``scale(N)``, ``Client.wait_for_workers(N)``) run
as a separate process, alternating which goes first. Only our own jobs are touched: each run's
jobs have a unique name and the queue is drained of them before the next run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from testbeds.control import pid_alive, testbed_lock

from . import job_timeline, launch
from .observe import (
    cluster_event,
    launcher_security,
    running_workers,
    scheduler_join_times,
    wait_until_quiet,
)
from .servers import EventStream, JupyterServer, bench_env
from .stats import Row, Sample, breakdown_line, paired_note, phases

REPO = Path(__file__).resolve().parent.parent
OPTIONS = {
    "slurm": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1},
    "sge": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1, "resource_spec": "h_vmem=1G"},
}
TITLES = {"slurm": "SLURM", "sge": "SGE"}
LAUNCHER_JOB = re.compile(r"^dcl-[0-9a-f]{12}$")
PIDFILES = {
    "slurm": Path("/var/lib/slurm-local/slurmctld.pid"),
    "sge": Path("/var/spool/gridengine/qmaster/qmaster.pid"),
}
BINARIES = {
    "slurm": ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "sbatch", "squeue", "scancel"],
    "sge": ["/usr/sbin/sge_qmaster", "/usr/sbin/sge_execd", "qsub", "qstat", "qdel"],
}


# --- the test beds --------------------------------------------------------------------------


class Testbed:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.env = bench_env()
        self.started_here = False

    def run(self, *cmd: str, check: bool = True) -> str:
        return subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, check=check, timeout=60
        ).stdout

    def ensure_running(self) -> None:
        missing = [b for b in BINARIES[self.kind] if not (os.path.exists(b) or shutil.which(b))]
        if missing:
            raise RuntimeError(
                f"{', '.join(missing)} missing: run `bash testbeds/install.sh` (as root)"
            )
        if pid_alive(PIDFILES[self.kind]):  # running: no lock needed (one may be held
            return  # around this run, e.g. while the test bed is reconfigured for 64 workers)
        with testbed_lock(self.kind):
            if pid_alive(PIDFILES[self.kind]):
                return
            print(f"  starting the {TITLES[self.kind]} test bed", flush=True)
            code, output = self._script(f"start-{self.kind}.sh", timeout=180)
            if code != 0:
                raise RuntimeError(f"testbeds/start-{self.kind}.sh failed:\n{output[-3000:]}")
            self.started_here = True

    def stop_if_started_here(self) -> None:
        """Stop a test bed this run started, unless DCL_KEEP_TESTBEDS is set or it has jobs."""
        if not self.started_here or os.environ.get("DCL_KEEP_TESTBEDS") or self.jobs():
            return
        with testbed_lock(self.kind):
            self._script(f"stop-{self.kind}.sh", timeout=120)

    def _script(self, name: str, timeout: float) -> tuple[int, str]:
        """Run a testbeds/ script; output to a file, not a pipe: the daemons it starts must not
        hold a pipe of ours open. New session, so a Ctrl-C of the benchmark does not reach them."""
        with tempfile.TemporaryFile() as log:
            try:
                code = subprocess.run(
                    ["bash", str(REPO / "testbeds" / name)],
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    timeout=timeout,
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
            log.seek(0)
            return code, log.read().decode(errors="replace")

    def jobs(self) -> list[tuple[str, str, str]]:
        """(job id, name, state) of every job in the queue, all users."""
        if self.kind == "slurm":
            out = self.run("squeue", "-h", "-o", "%i|%T|%j")  # the name last: it may hold "|"
            rows = [line.split("|", 2) for line in out.splitlines() if line.count("|") >= 2]
            return [(job_id.strip(), name, state.strip()) for job_id, state, name in rows]
        root = ET.fromstring(self.run("qstat", "-xml", "-u", "*"))
        return [
            (
                job.findtext("JB_job_number", "").strip(),
                job.findtext("JB_name", ""),
                job.findtext("state", "").strip(),
            )
            for job in root.iter("job_list")
        ]

    def cancel(self, name: str) -> None:
        """Cancel the jobs named ``name`` (only ever our own)."""
        command = ["scancel", "--name", name] if self.kind == "slurm" else ["qdel", name]
        self.run(*command, check=False)

    async def wait_no_other_launcher_jobs(self, timeout: float = 60) -> None:
        """Let launcher jobs (``dcl-<cluster id>``) of other users of this test bed finish first:
        their tests look for their cluster's jobs by that prefix, and the queue is quieter."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            jobs = await asyncio.to_thread(self.jobs)
            if not any(LAUNCHER_JOB.match(name) for _, name, _ in jobs):
                return
            await asyncio.sleep(1)

    async def wait_gone(self, name: str, timeout: float = 120) -> float:
        """Wait until no job named ``name`` is queued; cancel them if they linger."""
        t0 = time.monotonic()
        while any(job[1] == name for job in await asyncio.to_thread(self.jobs)):
            if time.monotonic() - t0 > timeout:
                self.cancel(name)
                raise TimeoutError(f"jobs named {name} still queued after {timeout:g} s")
            await asyncio.sleep(0.2)
        return time.monotonic() - t0


# --- one run each -----------------------------------------------------------------------------
def jobs_submitted(model: dict[str, Any]) -> bool:
    from dask_cluster_launcher.handles.base import WAITING_FOR_WORKERS

    return bool(model["state"] == "running" or model.get("phase") == WAITING_FOR_WORKERS)


async def launcher_once(
    server: JupyterServer, stream: EventStream, bed: Testbed, n: int, placement: str = ""
) -> dict[str, Any]:
    """One launch until N running workers; ``placement``: where the scheduler runs (the
    form's ``scheduler_placement``; empty: the backend's default, beside Jupyter)."""
    options: dict[str, Any] = dict(OPTIONS[bed.kind])
    prologue = [job_timeline.JOB_START_LINE, *options.get("job_script_prologue", [])]
    options["job_script_prologue"] = prologue
    if placement:
        options["scheduler_placement"] = placement
    body = {"backend": bed.kind, "options": options, "scaling": {"workers": n}}
    await bed.wait_no_other_launcher_jobs()
    since = stream.mark()
    start = time.time()
    code, model = await server.request("POST", "dask-cluster-launcher/clusters", body)
    answered = time.time()
    if code != 202:
        raise RuntimeError(f"POST clusters answered {code}: {model}")
    cluster_id = model["id"]
    try:
        # once the scheduler is up and every job was submitted the card says so (the cluster
        # is "running" only once a worker joined)
        submitted, _ = await stream.wait_for(
            cluster_event(cluster_id, jobs_submitted), since, timeout=300
        )
        ready, event = await stream.wait_for(
            cluster_event(cluster_id, lambda m: running_workers(m) >= n), since, timeout=300
        )
        address = event["cluster"]["scheduler_address"]
        joins = await scheduler_join_times(address, start, launcher_security(cluster_id))
    finally:
        code, body = await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
        if code != 204:
            print(f"  DELETE clusters/{cluster_id} answered {code}: {body}")
        await bed.wait_gone(f"dcl-{cluster_id}")
        # the launcher's default per-cluster log folder: read, then tidy it away (ours)
        logs = Path.home() / ".dask-cluster-launcher" / "logs" / cluster_id
        inside = job_timeline.read(logs, start) if logs.is_dir() else {}
        shutil.rmtree(logs, ignore_errors=True)
    return {
        **phases(start, ready, joins, answered=answered, submitted=submitted),
        "jobs": inside,
    }


async def raw_once(bed: Testbed, n: int, workdir: Path, tls: bool = False) -> dict[str, Any]:
    job_name = f"dclbench-{uuid.uuid4().hex[:8]}"
    log_directory = workdir / job_name
    log_directory.mkdir(parents=True)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("raw_jobqueue.py")),
        bed.kind,
        str(n),
        job_name,
        str(log_directory),
        *(["tls"] if tls else []),
        cwd=workdir,
        env={**bed.env, "DCL_BENCH_JOB_PROLOGUE": job_timeline.JOB_START_LINE},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out = err = b""
    try:
        out, err = await asyncio.wait_for(process.communicate(), 400)
    finally:
        if process.returncode is None:  # timed out or interrupted: its jobs would stay queued
            process.kill()
            bed.cancel(job_name)
            await process.wait()
        await bed.wait_gone(job_name)
        lines = out.decode().strip().splitlines() if process.returncode == 0 else []
        inside = job_timeline.read(log_directory, json.loads(lines[-1])["start"]) if lines else {}
        shutil.rmtree(log_directory, ignore_errors=True)
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"raw dask-jobqueue run failed:\n{err.decode()[-3000:]}")
    run = json.loads(lines[-1])
    return {
        **phases(run["start"], run["ready"], run["joins"], submitted=run["submitted"]),
        "jobs": inside,
    }


# --- the benchmark ----------------------------------------------------------------------------
async def placements(server: JupyterServer, kind: str) -> dict[str, str]:
    """Where the backend's scheduler can run besides Jupyter (form value -> title): "In its own
    batch job", "In one allocation with its workers", as the server offers them."""
    _, backends = await server.request("GET", "dask-cluster-launcher/backends")
    backend: dict[str, Any] = next((b for b in backends if b.get("name") == kind), {})
    field = backend.get("schema", {}).get("properties", {}).get("scheduler_placement", {})
    return {
        choice["const"]: choice.get("title", choice["const"])
        for choice in field.get("oneOf", [])
        if choice.get("const") not in (None, "", "beside_jupyter")
    }


def check_capacity(bed: Testbed, n: int) -> None:
    """N one-core 1 GB jobs (+ a scheduler's job) must fit the SLURM test bed's node at once."""
    if bed.kind != "slurm":
        return
    cpus, memory = bed.run("sinfo", "-h", "-o", "%c %m").split()[:2]
    if int(cpus) < n + 1 or int(memory.rstrip("+")) < (n + 1) * 1000:
        raise RuntimeError(
            f"the SLURM test bed's node has {cpus} CPUs and {memory} MB for {n} one-core 1 GB "
            f"workers: restart it with SLURM_FAKE_CPUS={n + 2} SLURM_REAL_MEM_MB={(n + 2) * 1000}"
            " bash testbeds/start-slurm.sh (then again without them, to the defaults)"
        )


async def run(
    server: JupyterServer,
    stream: EventStream,
    kind: str,
    repetitions: dict[int, int],
    tls_baseline: bool = True,
    other_placements: bool = True,
) -> tuple[list[Row], list[str]]:
    """Rows for the table, and lines of a 'where the time goes' breakdown (and of what the
    jobs did inside). Each repetition runs the launcher with its scheduler beside Jupyter,
    with it in each other placement the server offers (``other_placements``), plain
    dask-jobqueue, and (``tls_baseline``) plain dask-jobqueue with TLS, in alternating order."""
    bed = Testbed(kind)
    await asyncio.to_thread(bed.ensure_running)
    # The sidebar lists the backends (and the site's queues) before a launch: warm that up.
    offered = await placements(server, kind)
    if not other_placements:
        offered = {}
    # and the first cluster of the server process pays one-off imports (dashboard...): pay them
    # here, as the raw baseline does with a throw-away cluster
    await launch.launcher_once(server, stream)
    workdir = Path(tempfile.mkdtemp(prefix=f"dcl-bench-{kind}-"))
    title = TITLES[kind]
    rows, breakdown, inside = [], [], []
    sides = ["launcher", *offered, "raw", *(["tls"] if tls_baseline else [])]
    try:
        for n, reps in repetitions.items():
            await asyncio.to_thread(check_capacity, bed, n)
            runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
            for i in range(reps):
                others = len(await asyncio.to_thread(bed.jobs))
                for who in sides if i % 2 == 0 else sides[::-1]:
                    await wait_until_quiet()
                    if who == "raw" or who == "tls":
                        result = await raw_once(bed, n, workdir, tls=who == "tls")
                    else:
                        placement = "" if who == "launcher" else who
                        result = await launcher_once(server, stream, bed, n, placement)
                    runs[who].append(result)
                times = ", ".join(f"{who} {runs[who][-1]['total']:.2f} s" for who in sides)
                print(
                    f"  {title} {n} workers rep {i + 1}: {times}"
                    f" (other jobs in the queue at start: {others})",
                    flush=True,
                )
            raw_total = [r["total"] for r in runs["raw"]]
            named = {"launcher": f"{title}: launch -> {n} workers running"}
            for placement, words in offered.items():
                named[placement] = f"{title}, scheduler {words.lower()}: launch -> {n} workers"
            if tls_baseline:
                named["tls"] = f"{title}: TLS cost, dask-jobqueue with TLS -> {n} workers"
            for who, name in named.items():
                totals = [r["total"] for r in runs[who]]
                baseline = "the same without TLS" if who == "tls" else RAW_BASELINE
                rows.append(
                    Row(
                        name,
                        Sample(totals),
                        Sample(raw_total),
                        baseline,
                        paired_note(totals, raw_total),
                    )
                )
            for who in sides:
                label = {"raw": "dask-jobqueue", "tls": "dask-jobqueue + TLS"}.get(who, who)
                breakdown.append(breakdown_line(f"{title} {n}, {label}", runs[who]))
                inside.append(
                    job_timeline.line(
                        f"{title} {n}, {label}", [r["jobs"] for r in runs[who] if r.get("jobs")]
                    )
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        await asyncio.to_thread(bed.stop_if_started_here)
    if inside:
        breakdown += [
            "",
            "Inside the batch jobs (medians over jobs and runs; the last job's start in seconds",
            "from the launch request, then per job):",
            "",
            job_timeline.HEADER,
            *inside,
        ]
    return rows, breakdown


RAW_BASELINE = "dask-jobqueue `scale(N)` + `wait_for_workers(N)`"


if __name__ == "__main__":  # the command line lives in batch_cli.py
    from benchmarks import batch_cli

    batch_cli.cli()
