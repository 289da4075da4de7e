"""A user whose home has a long path keeps every file of their clusters private.

A Unix socket's path is limited to 107 bytes, and home directories on HPC file systems are long:
the launcher used to move such a user's cluster files (credentials, the worker preload module,
the dashboard socket) to ``/tmp/dcl-<uid>``, a name anyone can create first. Here ``dcl-victim``
(not root) has a home of more than 60 characters and a temporary directory shared with others
(``TMPDIR``, sticky and world-writable as ``/tmp`` is), and before its Jupyter server starts,
``dcl-other`` creates ``/tmp/dcl-<victim uid>`` and the same names in the shared folder, plants a
preload module of its own there, and links ``dask-scratch-space`` (distributed's default scratch
folder) to a folder of its own. The victim launches a local and a SLURM cluster. They must work
(the dashboard relayed, the workers running), the attacker's module must never run, nothing of
the victim's may appear in a shared folder but its own ``mkdtemp`` folders (0700), and no job
script or worker command line may name a shared path for credentials or the preload module.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import psutil

from tests.jupyter_process import JupyterServerProcess
from tests.users import ATTACKER, VICTIM, remove_tree, require_user, run_as, world_enterable_dir
from tests.victim_clusters import BATCH, launch, relay, stop_everything, wait_running

#: Options naming files a worker reads (credentials, the preload module, the MPI runner).
FILE_OPTIONS = ("--tls-ca-file", "--tls-cert", "--tls-key", "--preload", "--scheduler-file")
#: What ``mkdtemp(prefix="dcl-")`` (hosts) and ``mktemp -d .../dcl-XXXXXXXXXX`` (jobs) make.
OWN_FOLDER = re.compile(r"dcl-[A-Za-z0-9_]{8,10}")


def plant(shared: Path, attacker_dir: Path, markers: Path, uid: int) -> list[Path]:
    """As the attacker: the names the launcher used, and links, ready before the victim comes;
    each holds a ``dcl_private_http.py`` that leaves a marker when it is imported."""
    module = (
        "import os\n"
        f"open(os.path.join({str(markers)!r}, 'imported-' + str(os.getpid())), 'w').close()\n"
    )
    tmp_name = Path("/tmp") / f"dcl-{uid}"
    if tmp_name.is_symlink() or tmp_name.exists():  # a previous run's or an old launcher's
        tmp_name.unlink() if tmp_name.is_symlink() else shutil.rmtree(tmp_name)
    script = f"""
        set -e
        for d in {tmp_name} {attacker_dir}; do
            mkdir -m 0777 "$d"; chmod 0777 "$d"
            printf %s "$MODULE" > "$d/dcl_private_http.py"; chmod 0666 "$d/dcl_private_http.py"
        done
        mkdir -m 0777 "{attacker_dir}/clusters"
        ln -s "{attacker_dir}" "{shared}/dcl-{uid}"
        ln -s "{attacker_dir}" "{shared}/dask-scratch-space"
        ln -s "{attacker_dir}" "{shared}/dask-scratch-space-{uid}"
    """
    done = run_as(ATTACKER, ["sh", "-c", script], env={"MODULE": module})
    assert done.returncode == 0, done.stderr
    return [tmp_name]


def victims_in_shared_places(places: list[Path], uid: int) -> list[str]:
    """What the victim owns in shared folders (links not followed), other than its own
    ``mkdtemp`` folders (0700) and what they hold."""
    found = []
    for place in places:
        for folder, dirs, files in os.walk(place):
            for name in list(dirs):
                path = Path(folder) / name
                info = path.lstat()
                if info.st_uid != uid:
                    continue
                own = OWN_FOLDER.fullmatch(name) and stat.S_IMODE(info.st_mode) == 0o700
                if Path(folder) in places and own:
                    dirs.remove(name)  # private: its content is its own business
                else:
                    found.append(f"{path} (folder, mode {stat.S_IMODE(info.st_mode):o})")
            for name in files:
                path = Path(folder) / name
                if path.lstat().st_uid == uid:
                    found.append(str(path))
    return found


def named_files(argv: list[str]) -> list[str]:
    """Paths an argument list gives to FILE_OPTIONS (``--opt PATH`` and ``--opt=PATH``)."""
    named = [value for option, value in itertools.pairwise(argv) if option in FILE_OPTIONS]
    named += [v for o, _, v in (a.partition("=") for a in argv) if o in FILE_OPTIONS and v]
    return named


def batch_script(testbed, job_id: str) -> str:
    return subprocess.run(
        ["scontrol", "write", "batch_script", job_id, "-"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **testbed.env},
    ).stdout


def test_a_long_home_path_puts_nothing_in_shared_folders(slurm_testbed):
    uid = require_user(VICTIM).pw_uid
    require_user(ATTACKER)
    base = world_enterable_dir("dcl-longhome-")
    shared, markers = base / "tmp", base / "markers"
    for folder in (shared, markers):
        folder.mkdir()
        folder.chmod(0o1777)
    root = base / "server"
    home = root / "home" / "a-user-with-a-long-home-on-a-parallel-file-system"
    home.mkdir(parents=True)
    assert len(str(home)) >= 60
    planted = plant(shared, shared / "other-users-folder", markers, uid)
    env = {"HOME": str(home), "TMPDIR": str(shared)}
    server = JupyterServerProcess(root, env=env, user=VICTIM)
    private = home / ".dask-cluster-launcher"
    ids: list[str] = []
    try:
        local = {"backend": "local", "options": {"threads_per_worker": 1, "processes": True}}
        # the form's default spill folder: the job's own folder in the (shared) $TMPDIR, never
        # distributed's dask-scratch-space there, which the attacker linked to theirs
        slurm = {"backend": "slurm", "options": BATCH}
        ids = [launch(server, local, 2), launch(server, slurm, 1)]
        models = [wait_running(server, ids[0], 2), wait_running(server, ids[1], 1)]
        status, body = relay(server, ids[0], "health")
        assert (status, body) == (200, "ok"), (status, body[-300:])

        imported = sorted(p.name for p in markers.iterdir())
        assert not imported, f"{ATTACKER}'s planted module ran: {imported}"
        found = victims_in_shared_places([shared, *planted], uid)
        assert not found, f"{VICTIM}'s files in shared folders: {found}"
        assert all(p.lstat().st_uid != uid for p in planted)

        # the workers (local processes and the batch job's) read credentials and the preload
        # module from the private directory only
        job_ids = [job["job_id"] for job in models[1]["jobs"]]
        assert job_ids
        commands = []
        for process in psutil.process_iter(["uids", "cmdline"]):
            if process.info["uids"] and process.info["uids"].real == uid:
                commands.append(process.info["cmdline"] or [])
        scripts = [batch_script(slurm_testbed, job_id) for job_id in job_ids]
        named = [path for argv in commands for path in named_files(argv)]
        for script in scripts:
            named += named_files(script.split())
        assert any("--preload" in argv for argv in commands), commands  # not vacuous
        outside = [path for path in named if not path.startswith(f"{private}/")]
        assert not outside, f"files named outside {private}: {outside}"
        for script in scripts:
            assert f"dcl-{uid}" not in script and str(shared) not in script, script

        # the clusters' own folders (socket, scratch space) go when they stop
        stop_everything(server, ids, slurm_testbed)
        deadline = time.monotonic() + 30
        while left := [p for p in shared.iterdir() if p.lstat().st_uid == uid]:
            assert time.monotonic() < deadline, f"left after the clusters stopped: {left}"
            time.sleep(0.2)
    finally:
        stop_everything(server, ids, slurm_testbed)
        for path in planted:
            remove_tree(path)
        remove_tree(base)
