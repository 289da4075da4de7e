"""A second user of the machine reaches nothing of a user's clusters.

A real Jupyter server of ``dcl-victim``'s (not root: root passes every permission check) launches
a local, a SLURM and an SGE cluster, with ``$HOME`` in a folder anyone may enter (as homes often
are on shared machines: privacy must come from the launcher).
Then, as the user ``dcl-other`` (made by ``testbeds/install.sh``), ``tests/isolation_probe.py``
tries every TCP port the clusters listen on, on loopback and on the site address: Dask RPC over
plain TCP and over TLS without a client certificate, HTTP and HTTPS; it connects to every Unix
socket and opens every file and folder the launcher wrote (the private directory, the records,
job logs, and the folders the hosts made for their dashboard sockets). Nothing may answer.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from dask_cluster_launcher.backends import network
from tests.isolation_probe import netloc
from tests.jupyter_process import JupyterServerProcess
from tests.users import VICTIM

OTHER_USER = "dcl-other"
PROBE = Path(__file__).with_name("isolation_probe.py")
BATCH = {"walltime": "00:20:00", "memory": "1 GB", "cores": 1}
CLUSTERS = {
    "local": {"backend": "local", "options": {"threads_per_worker": 1}},
    "slurm": {"backend": "slurm", "options": BATCH},
    "sge": {"backend": "sge", "options": {**BATCH, "resource_spec": "h_vmem=1G"}},
}
#: Addresses that listen on every interface of the machine.
WILDCARDS = ("0.0.0.0", "::", "")
# options naming files a cluster process reads (credentials, preload scripts)
FILE_OPTIONS = ("--tls-ca-file", "--tls-cert", "--tls-key", "--preload", "--scheduler-file")


@pytest.fixture(scope="module")
def other_user() -> str:
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        pytest.fail(f"no user {OTHER_USER}: run `sudo testbeds/install.sh`", pytrace=False)
    return OTHER_USER


def world_enterable_dir(prefix: str) -> Path:
    """A fresh 0755 folder outside pytest's own (0700) temporary folders."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def wait_running(server: JupyterServerProcess, cluster_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        model = server.call(f"clusters/{cluster_id}")
        assert model["state"] != "failed", model["error"]
        if model["state"] == "running" and any(w["status"] == "running" for w in model["workers"]):
            return model
        assert time.monotonic() < deadline, f"not running with a worker: {model}"
        time.sleep(0.3)


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1].split("/")[0])


def cluster_processes(server_pid: int, job_names: dict[str, str]) -> dict[int, str]:
    """pid -> label: the Jupyter server and its descendants (schedulers, local workers, cluster
    hosts), and every process of the clusters' batch jobs, known by the job name that SLURM
    (``SLURM_JOB_NAME``) and Grid Engine (``JOB_NAME``) put in their environment. Other tests'
    clusters and the batch daemons are not the launcher's: they are left out."""
    server = psutil.Process(server_pid)
    found = {server_pid: "jupyter server"}
    for child in server.children(recursive=True):
        found[child.pid] = "server's child"
    for proc in psutil.process_iter(["environ"]):
        env = proc.info["environ"] or {}
        kind = job_names.get(env.get("SLURM_JOB_NAME") or env.get("JOB_NAME") or "")
        if kind:
            found.setdefault(proc.pid, f"{kind} job")
    return found


def listening(pids: dict[int, str]) -> dict[tuple[str, int], str]:
    """(address, port) -> "label (pid)" of every TCP socket these processes listen on."""
    return {
        (conn.laddr.ip, conn.laddr.port): f"{pids[conn.pid]} ({conn.pid})"
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids
    }


def probe_hosts(bound: str, site: str) -> list[str]:
    """Where to try a socket bound to ``bound``: loopback, the site address, and its own."""
    hosts = {"127.0.0.1", site}
    if ":" in bound:
        hosts.add("::1")
    if bound not in ("0.0.0.0", "::", "::1"):
        hosts.add(bound)
    return sorted(hosts)


def launcher_paths(roots: set[Path]) -> tuple[list[str], list[str]]:
    """(files and folders, Unix sockets) under the launcher's folders."""
    paths, sockets = [], []
    # a root inside another one is walked once
    roots = {r for r in roots if r.exists() and not any(p in roots for p in r.parents)}
    for root in sorted(roots):
        for folder, _, files in os.walk(root):
            paths.append(folder)
            for name in files:
                path = os.path.join(folder, name)
                is_socket = stat.S_ISSOCK(os.lstat(path).st_mode)
                (sockets if is_socket else paths).append(path)
    return paths, sockets


def named_files(pids: dict[int, str]) -> set[Path]:
    """Folders of the files cluster processes name on their command lines."""
    folders = set()
    for pid in pids:
        try:
            args = psutil.Process(pid).cmdline()
        except psutil.Error:
            continue
        named = [value for option, value in itertools.pairwise(args) if option in FILE_OPTIONS]
        named += [
            value
            for option, _, value in map(lambda a: a.partition("="), args)
            if option in FILE_OPTIONS and value
        ]
        folders.update(Path(path).parent for path in named if os.path.isfile(path))
    return folders


def probe_pythonpath(workdir: Path) -> str:
    """The site-packages the probe imports distributed from, readable by the other user: the
    project's own when every folder above it lets others in, else a copy of what it imports."""
    site = Path(sysconfig.get_paths()["purelib"])
    if site.stat().st_mode & stat.S_IROTH and all(
        p.stat().st_mode & stat.S_IXOTH for p in (site, *site.parents)
    ):
        return str(site)
    return copy_imported_packages(site, workdir / "site-packages")


def copy_imported_packages(site: Path, copy: Path) -> str:
    """Copy the packages of ``site`` that the probe imports into ``copy``."""
    # Run the probe here (as this user, against nothing) to learn which modules it loads.
    lister = (
        "import io, runpy, sys; sys.stdin = io.StringIO('{}'); sys.stdout = io.StringIO();"
        f"runpy.run_path({str(PROBE)!r}, run_name='__main__');"
        "print('\\n'.join(str(getattr(m, '__file__', None)) for m in list(sys.modules.values())),"
        " file=sys.__stdout__)"
    )
    files = subprocess.run(
        [sys.executable, "-c", lister], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    for top in {Path(f).relative_to(site).parts[0] for f in files if f.startswith(f"{site}/")}:
        source, target = site / top, copy / top
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return str(copy)


def probe_as(user: str, request: dict) -> list[dict]:
    workdir = world_enterable_dir("dcl-probe-")
    try:
        # the other user may not be able to read this checkout: run a copy
        probe = Path(shutil.copy(PROBE, workdir))
        env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir)}
        env["PYTHONPATH"] = probe_pythonpath(workdir)
        drop = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
        result = subprocess.run(
            [*drop, "/usr/bin/python3", str(probe)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert result.returncode == 0, f"probe failed:\n{result.stderr[-3000:]}"
        return json.loads(result.stdout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def table(rows: list[dict], owners: dict[str, str]) -> str:
    lines = [f"{'target':<58} {'owner':<24} {'attempt':<28} result"]
    for row in sorted(rows, key=lambda r: (not r["reachable"], r["target"], r["attempt"])):
        verdict = "REACHED" if row["reachable"] else "refused"
        owner = owners.get(row["target"], "control" if row["control"] else "")
        target = row["target"] if len(row["target"]) <= 58 else "..." + row["target"][-55:]
        line = f"{target:<58} {owner:<24} {row['attempt']:<28} {verdict}: {row['detail']}"
        lines.append(line)
    return "\n".join(lines)


def test_another_user_reaches_no_port_and_no_file(slurm_testbed, sge_testbed, other_user):
    beds = {"slurm": slurm_testbed, "sge": sge_testbed}
    root = world_enterable_dir("dcl-isolation-")
    home = root / "server" / "home"
    home.mkdir(mode=0o755, parents=True)
    server = JupyterServerProcess(root / "server", env={"HOME": str(home)}, user=VICTIM)
    job_names: dict[str, str] = {}
    try:
        ids = {
            kind: server.call("clusters", {**body, "scaling": {"workers": 1}})["id"]
            for kind, body in CLUSTERS.items()
        }
        job_names = {f"dcl-{ids[kind]}": kind for kind in beds}
        models = {kind: wait_running(server, cluster_id) for kind, cluster_id in ids.items()}

        pids = cluster_processes(server.pid, job_names)
        ports = listening(pids)
        ports = {key: owner for key, owner in ports.items() if key[1] != server.port}
        # not vacuous: every scheduler and worker of the three clusters is among the ports
        for kind, model in models.items():
            for address in [model["scheduler_address"], *(w["address"] for w in model["workers"])]:
                assert port_of(address) in {port for _, port in ports}, (kind, address, ports)
        assert {"slurm job", "sge job"} <= {label for label in pids.values()}
        # every scheduler, nanny and worker listens on one interface's address, never on all
        wildcard = {key: owner for key, owner in ports.items() if key[0] in WILDCARDS}
        assert not wildcard, f"listening on every interface: {wildcard} (all: {ports})"

        site = network.ipv4_interfaces()[network.default_interface(network.ipv4_interfaces())]
        targets = sorted({(h, p) for (ip, p) in ports for h in probe_hosts(ip, site)})
        by_port = {port: owner for (_, port), owner in ports.items()}
        owners = {netloc(host, port): by_port[port] for host, port in targets}
        roots = {home / ".dask-cluster-launcher", server.runtime_dir / "dask-cluster-launcher"}
        for kind, model in models.items():
            for job in model["jobs"]:
                log = server.call(f"clusters/{ids[kind]}/jobs/{job['job_id']}/log")
                roots.update(Path(f["path"]).parent for f in log["files"])
        roots |= named_files(pids)
        records = server.runtime_dir / "dask-cluster-launcher"
        for record in records.glob("*.json"):  # the hosts' own folders (dashboard sockets)
            roots.update(Path(d) for d in json.loads(record.read_text()).get("local_dirs", []))
        paths, sockets = launcher_paths(roots)
        assert paths, f"the launcher wrote nothing under {roots}?"

        t0 = time.monotonic()
        rows = probe_as(other_user, {"tcp": targets, "unix": sockets, "paths": paths})
        seconds = time.monotonic() - t0
        report = (
            f"{len(targets)} host:port targets, {len(sockets)} sockets, {len(paths)} paths "
            f"probed as {other_user} in {seconds:.1f} s\n{table(rows, owners)}"
        )
        print(report)  # the whole table; failures below list only what matters
        blind = [r for r in rows if r["control"] and not r["reachable"]]
        assert not blind, f"the probe cannot reach its own listeners:\n{table(blind, owners)}"
        reached = [r for r in rows if r["reachable"] and not r["control"]]
        assert not reached, (
            f"{other_user} reached {len(reached)} of {len(rows)} attempts:\n"
            f"{table(reached, owners)}"
        )
    finally:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)  # stops the clusters, cancels the jobs
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(30)
        server.close()
        for name, kind in job_names.items():
            beds[kind].cancel(beds[kind].queue_job_ids(name))
        shutil.rmtree(root, ignore_errors=True)
