"""The Jupyter server's secrets stay out of the processes it starts, and a module planted in
the notebook folder is never imported by them.

A real Jupyter server runs as ``dcl-victim`` (not root), started in its notebook folder as a
user starts one, with JupyterHub's variables (``JUPYTERHUB_API_TOKEN``, ``JPY_API_TOKEN``), a
token and a password of the user's own, and a variable that holds the server's token. It
launches a local cluster (worker processes) and a SLURM cluster. Read as root (another user
cannot read ``/proc/<pid>/environ`` of the victim's processes: the kernel refuses), no cluster
host, local worker or batch-job process carries any of them, while an ordinary variable still
arrives; the hosts work in the private directory; and ``distributed.py``,
``dask_cluster_launcher.py`` and ``dask.py`` planted in the notebook folder (as anyone who can
write there could) were never imported.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.jupyter_process import JupyterServerProcess
from tests.users import VICTIM, remove_tree, require_user, world_enterable_dir

SERVER_TOKEN = "victim-server-token-4b1d7c0e9f"
SECRETS = {
    "JUPYTERHUB_API_TOKEN": "secret-hub-token-a1b2c3d4",
    "JPY_API_TOKEN": "secret-hub-token-a1b2c3d4",
    "MY_TOKEN": "secret-my-token-e5f6a7b8",
    "DB_PASSWORD": "secret-password-c9d0e1f2",
    "AWS_SECRET_ACCESS_KEY": "secret-aws-key-0a1b2c3d",
    # not a secret's name, but the server's token in its value
    "NOTEBOOK_URL": f"http://127.0.0.1:8888/lab?token={SERVER_TOKEN}",
}
KEPT = {"DCL_ORDINARY_SETTING": "kept-for-the-workers"}
PLANTED = ("distributed.py", "dask_cluster_launcher.py", "dask.py")
CLUSTERS = {
    "local": {"backend": "local", "options": {"threads_per_worker": 1, "processes": True}},
    "slurm": {
        "backend": "slurm",
        "options": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1},
    },
}


def plant_modules(folder: Path, markers: Path) -> None:
    """Modules that, when imported, leave a marker saying which process imported them."""
    code = (
        "import os, sys\n"
        f"with open(os.path.join({str(markers)!r}, str(os.getpid())), 'a') as f:\n"
        "    f.write(__name__ + ' ' + ' '.join(sys.argv) + '\\n')\n"
        "raise ImportError('a planted module was imported')\n"
    )
    for name in PLANTED:
        (folder / name).write_text(code)


def wait_running(server: JupyterServerProcess, cluster_id: str, workers: int) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        model = server.call(f"clusters/{cluster_id}")
        if model["state"] == "failed":
            return model
        running = [w for w in model["workers"] if w["status"] == "running"]
        if model["state"] == "running" and len(running) >= workers:
            return model
        assert time.monotonic() < deadline, f"not running with {workers} workers: {model}"
        time.sleep(0.3)


def environ(pid: int) -> dict[str, str]:
    try:
        return psutil.Process(pid).environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return {}


def launcher_processes(server_pid: int, job_names: dict[str, str]) -> dict[int, str]:
    """pid -> what it is: the server's descendants (cluster hosts, the spare host, local
    workers) and every process of the clusters' batch jobs (found by SLURM_JOB_NAME)."""
    found: dict[int, str] = {}
    for child in psutil.Process(server_pid).children(recursive=True):
        # a host's helpers and workers are forks of it (its command line): known by parentage
        found[child.pid] = "host" if child.ppid() == server_pid else "host's child"
    for proc in psutil.process_iter():
        kind = job_names.get(environ(proc.pid).get("SLURM_JOB_NAME", ""))
        if kind:
            found.setdefault(proc.pid, f"{kind} job")
    return found


def leaked(env: dict[str, str]) -> list[str]:
    """The secrets ``env`` carries, by name or by value."""
    found = [name for name in SECRETS if name in env]
    values = [SERVER_TOKEN, *SECRETS.values()]
    found += [f"{name} (a secret's value)" for name, value in env.items()
              if any(secret in value for secret in values)]  # fmt: skip
    return found


def test_hosts_workers_and_jobs_get_no_secret_and_import_nothing_from_the_notebooks(
    slurm_testbed,
):
    require_user(VICTIM)
    base = world_enterable_dir("dcl-env-")
    markers = base / "markers"
    markers.mkdir(mode=0o1777)
    markers.chmod(0o1777)
    root = base / "server"
    notebooks, home = root / "notebooks", root / "home"
    notebooks.mkdir(parents=True)
    home.mkdir()
    plant_modules(notebooks, markers)
    private_dir = home / ".dcl"
    config = {"ClusterLauncherApp": {"private_dir": str(private_dir)}}
    env = {"HOME": str(home), **SECRETS, **KEPT}
    server = JupyterServerProcess(
        root, token=SERVER_TOKEN, env=env, config=config, user=VICTIM, cwd=notebooks
    )
    workers = {"local": 2, "slurm": 1}
    ids: dict[str, str] = {}
    try:
        for kind, body in CLUSTERS.items():
            ids[kind] = server.call("clusters", {**body, "scaling": {"workers": workers[kind]}})[
                "id"
            ]
        models = {kind: wait_running(server, ids[kind], workers[kind]) for kind in ids}
        imported = {p.name: p.read_text() for p in markers.iterdir()}
        assert not imported, f"planted modules were imported (pid: importer): {imported}"
        for kind, model in models.items():
            assert model["state"] == "running", (kind, model["error"], server.log())

        job_names = {f"dcl-{ids['slurm']}": "slurm"}
        processes = launcher_processes(server.pid, job_names)
        kinds = set(processes.values())
        assert {"host", "host's child", "slurm job"} <= kinds, processes  # not vacuous
        report = {}
        for pid, kind in processes.items():
            env_of = environ(pid)
            if not env_of:
                continue  # it ended meanwhile
            assert env_of.get("DCL_ORDINARY_SETTING") == KEPT["DCL_ORDINARY_SETTING"], (
                kind,
                pid,
            )
            if leaked(env_of):
                report[f"{kind} {pid}"] = leaked(env_of)
        # the server itself has them all: the test gives them, the kernel shows them
        assert set(SECRETS) <= set(environ(server.pid))
        assert not report, f"secrets reached the launcher's processes: {report}"

        # the hosts (and so the local workers) work in the private directory
        private = os.path.realpath(private_dir)
        for pid, kind in processes.items():
            if kind.startswith("host"):
                with_cwd = os.readlink(f"/proc/{pid}/cwd")
                assert with_cwd == private, (kind, pid, with_cwd)

        # the batch job's script carries no secret either
        job_ids = [job["job_id"] for job in server.call(f"clusters/{ids['slurm']}")["jobs"]]
        assert job_ids
        for job_id in job_ids:
            script = subprocess.run(
                ["scontrol", "write", "batch_script", job_id, "-"],
                capture_output=True, text=True, timeout=30, env={**os.environ, **slurm_testbed.env},
            ).stdout  # fmt: skip
            assert "#!" in script
            assert not [s for s in [SERVER_TOKEN, *SECRETS.values()] if s in script], script
    finally:
        for cluster_id in ids.values():
            with contextlib.suppress(OSError):
                server.call(f"clusters/{cluster_id}", method="DELETE")
        server.close()
        remove_tree(base)


@pytest.mark.parametrize(
    "name, value, denied",
    [
        ("JUPYTERHUB_API_TOKEN", "x", True),
        ("jupyterhub_api_url", "http://hub:8081/hub/api", True),
        ("JPY_SESSION_NAME", "x", True),
        ("SATURN_TOKEN", "x", True),
        ("AWS_SESSION_TOKEN", "x", True),
        ("CLIENT_SECRET", "x", True),
        ("MYSQL_PASSWORD", "x", True),
        ("OPENAI_API_KEY", "x", True),
        ("PATH", "/usr/bin", False),
        ("DASK_DISTRIBUTED__WORKER__DAEMON", "False", False),
        ("JUPYTERHUB_SERVICE_PREFIX", "/user/ann/", False),  # dask's dashboard link uses it
        ("SLURM_CONF", "/etc/slurm/slurm.conf", False),
        ("URL", f"https://x/?token={SERVER_TOKEN}", True),
        ("SHORT", "abc", False),
    ],
)
def test_the_deny_list(name, value, denied):
    from dask_cluster_launcher.child_env import DEFAULT_DENY, ChildEnvPolicy

    policy = ChildEnvPolicy(DEFAULT_DENY, frozenset({SERVER_TOKEN, "abcd"}))
    assert policy.denied(name, value) is denied


def test_operators_extend_the_list_and_the_python_api_applies_it(tmp_path, monkeypatch):
    from dask_cluster_launcher import child_env
    from dask_cluster_launcher.config import launcher_manager, launcher_settings

    (tmp_path / "jupyter_server_config.py").write_text(
        "c.ClusterLauncherApp.child_env_deny.extend(['SITE_LICENSE_*'])\n"
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr(child_env, "_policy", child_env.ChildEnvPolicy())
    settings = launcher_settings()
    assert "SITE_LICENSE_*" in settings.child_env_deny and "*_TOKEN" in settings.child_env_deny
    launcher_manager(settings)  # what quick_connect and the command line build
    kept = child_env.child_environment({"SITE_LICENSE_KEY": "x", "MY_TOKEN": "y", "A": "b"})
    assert kept == {"A": "b"}
