"""Another user of the machine attacks a user's SLURM clusters through the batch system.

A real Jupyter server runs as ``dcl-victim`` (not root: root passes every permission check) with
its temporary directory in a shared, sticky folder, as ``/tmp`` is; the attacker is ``dcl-other``
(both made by ``testbeds/install.sh``), on a machine with ``fs.protected_regular=0``.

- **Job scripts.** A compiled watcher of the attacker's (``job_script_watcher.c``) takes over
  every job script written in the shared temporary folder and rewrites it before ``sbatch``
  reads it; on a launch with dask-jobqueue's own job files, a share of the 12 jobs ran the
  attacker's script as the victim. Not one may.
- **Jobs named like a cluster.** The attacker submits a job named ``dcl-<victim's cluster id>``:
  it must never show on the victim's card, and stopping the cluster must leave it alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.jupyter_process import JupyterServerProcess
from tests.users import (
    ATTACKER,
    VICTIM,
    as_user,
    owned_dir,
    remove_tree,
    run_as,
    world_enterable_dir,
)

WATCHER_SOURCE = Path(__file__).with_name("job_script_watcher.c")
WORKERS = 12  # the test bed's node has 16 CPUs: all of them run at once
OPTIONS = {"walltime": "00:05:00", "memory": "400 MB", "cores": 1, "processes": 1}


@pytest.fixture(scope="module")
def attack_root() -> Iterator[Path]:
    root = world_enterable_dir("dcl-attack-batch-")
    yield root
    remove_tree(root)


@pytest.fixture(scope="module")
def shared_tmp(attack_root: Path) -> Path:
    """The victim's temporary directory: a sticky folder anyone may write in, as ``/tmp``."""
    folder = attack_root / "tmp"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


@pytest.fixture(scope="module")
def victim_server(slurm_testbed, attack_root: Path, shared_tmp: Path) -> Iterator[Any]:
    home = owned_dir(VICTIM, attack_root / "home")
    env = {"HOME": str(home), "TMPDIR": str(shared_tmp), "USER": VICTIM, "LOGNAME": VICTIM}
    server = JupyterServerProcess(attack_root / "server", env=env, user=VICTIM)
    try:
        yield server
    finally:
        for cluster in server.call("clusters"):
            server.call(f"clusters/{cluster['id']}", method="DELETE")
        server.close()


def victim_jobs(bed, names: set[str]) -> dict[str, str]:
    """job id -> name of the victim's queued jobs with one of these names."""
    out = bed.run(["squeue", "-h", "-u", VICTIM, "-o", "%i|%j"]).stdout
    rows = (line.split("|", 1) for line in out.splitlines() if line.strip())
    return {job_id: name for job_id, name in rows if name in names}


def wait_for(predicate, timeout: float, what: str, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


# --- job scripts ------------------------------------------------------------------------------
@pytest.fixture
def watcher(attack_root: Path, shared_tmp: Path, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """The attacker's watcher running on the shared temporary folder; its payload touches a
    marker in a folder of the attacker's that the victim's jobs may write in."""
    lair = owned_dir(ATTACKER, attack_root / "attacker")
    markers = owned_dir(ATTACKER, lair / "markers", mode=0o777)
    binary = lair / "watcher"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(WATCHER_SOURCE)], check=True)
    binary.chmod(0o755)
    payload = lair / "payload.sh"
    payload.write_text(f'#!/bin/sh\ntouch "{markers}/pwned-$SLURM_JOB_ID"\n')
    payload.chmod(0o644)
    log = lair / "watcher.log"
    log.touch()
    shutil.chown(log, ATTACKER)
    process = subprocess.Popen(
        [str(binary), str(shared_tmp), str(payload), str(log)], **as_user(ATTACKER)
    )
    try:
        wait_for(lambda: "watching" in log.read_text(), 10, "the watcher to start")
        yield {"log": log, "markers": markers, "payload": payload}
    finally:
        process.terminate()
        process.wait(10)


def watcher_events(log: Path, kind: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.startswith(kind)]


def prove_the_watcher_works(shared_tmp: Path, watcher: dict[str, Path]) -> None:
    """Control: a script written the way dask.utils.tmpfile writes it (delete, then open the
    name again), with time for the watcher to take the name, ends up with its payload."""
    control = (
        "import os, sys, time\n"
        "name = os.path.join(sys.argv[1], 'control.sh')\n"
        "open(name, 'w').close(); os.remove(name); time.sleep(0.2)\n"
        "with open(name, 'w') as f: f.write('#!/bin/sh\\necho victim\\n')\n"
        "time.sleep(0.2); print(open(name).read())\n"
    )
    result = run_as(VICTIM, [sys.executable, "-c", control, str(shared_tmp)])
    assert result.returncode == 0, result.stderr
    assert "pwned" in result.stdout, f"the watcher did not rewrite the control: {result.stdout}"
    assert watcher_events(watcher["log"], "replaced") == ["control.sh"]


def test_another_users_watcher_cannot_rewrite_a_job_script(
    slurm_testbed, victim_server, shared_tmp, watcher
):
    prove_the_watcher_works(shared_tmp, watcher)
    t0 = time.monotonic()
    body = {"backend": "slurm", "options": OPTIONS, "scaling": {"workers": WORKERS}}
    cluster_id = victim_server.call("clusters", body)["id"]
    name = f"dcl-{cluster_id}"

    def model() -> dict:
        found = victim_server.call(f"clusters/{cluster_id}")
        assert found["state"] != "failed", found["error"]
        return found

    def events(kind: str) -> set[str]:
        return set(watcher_events(watcher["log"], kind)) - {"control.sh"}

    # every job submitted: on the card, or (a job that runs the other user's script has the
    # name of its file) rewritten by the watcher
    wait_for(lambda: len(model()["jobs"]) + len(events("replaced")) >= WORKERS, 60, "the jobs")
    assert not events("replaced"), f"the other user rewrote job scripts: {events('replaced')}"
    running = lambda: [w for w in model()["workers"] if w["status"] == "running"]  # noqa: E731
    wait_for(lambda: len(running()) >= WORKERS, 60, f"{WORKERS} workers")
    print(f"{WORKERS} workers running {time.monotonic() - t0:.1f} s after the launch")

    seen = events("seen")
    jobs = victim_jobs(slurm_testbed, {name, *seen})
    scripts = {
        job_id: slurm_testbed.run(["scontrol", "write", "batch_script", job_id, "-"]).stdout
        for job_id in jobs
    }
    victim_server.call(f"clusters/{cluster_id}", method="DELETE")
    wait_for(lambda: not victim_jobs(slurm_testbed, {name, *seen}), 60, "the queue to empty")

    markers = sorted(p.name for p in watcher["markers"].iterdir())
    assert not markers, f"jobs ran the other user's script as {VICTIM}: {markers}"
    assert set(jobs.values()) == {name} and len(jobs) == WORKERS, jobs
    for job_id, text in scripts.items():
        assert "pwned" not in text, f"job {job_id} carries the other user's script"
        assert f"#SBATCH -J {name}" in text and "distributed.cli.dask_worker" in text, job_id
    # no job script of the launch ever sat in the shared temporary folder
    assert not seen, f"job scripts written in the shared temporary folder: {sorted(seen)}"


# --- a job named like the victim's cluster ------------------------------------------------------
def test_another_users_job_named_like_a_cluster_is_not_the_clusters(slurm_testbed, victim_server):
    body = {"backend": "slurm", "options": OPTIONS, "scaling": {"workers": 1}}
    cluster_id = victim_server.call("clusters", body)["id"]
    name = f"dcl-{cluster_id}"
    submitted = run_as(
        ATTACKER,
        ["sbatch", "--parsable", "--hold", "-J", name, "-t", "00:05:00", "--wrap", "sleep 300"],
        env=slurm_testbed.env,
        cwd="/",
    )
    assert submitted.returncode == 0, submitted.stderr
    foreign = submitted.stdout.strip().split(";")[0]
    try:
        # the card never shows it: not while the cluster starts, nor once it runs
        shown: set[str] = set()
        deadline = time.monotonic() + 4
        while True:
            model = victim_server.call(f"clusters/{cluster_id}")
            assert model["state"] != "failed", model["error"]
            shown |= {job["job_id"] for job in model["jobs"]}
            worker_ran = any(w["status"] == "running" for w in model["workers"])
            if worker_ran and time.monotonic() > deadline:
                break
            assert time.monotonic() < deadline + 90, "the victim's worker never ran"
            time.sleep(0.3)
        assert foreign not in shown, f"the other user's job {foreign} shows on the card"
        assert shown and shown <= set(victim_jobs(slurm_testbed, {name})), shown

        victim_server.call(f"clusters/{cluster_id}", method="DELETE")
        wait_for(lambda: not victim_jobs(slurm_testbed, {name}), 60, "the victim's jobs to end")
        time.sleep(1)  # the stop's reaping by name is over
        left = slurm_testbed.run(["squeue", "-h", "-j", foreign, "-o", "%i|%u|%j"]).stdout
        assert left.strip() == f"{foreign}|{ATTACKER}|{name}", "stopping cancelled it"
    finally:
        slurm_testbed.cancel([foreign])
