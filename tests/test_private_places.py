"""Where a cluster's files, sockets and processes are found, and what a record may make the
launcher touch: units of ``private``, ``private_http`` and ``records``, with real processes,
sockets and folders (the attacks as another user are in ``test_attack_private_paths.py``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from dask_cluster_launcher.errors import NotFound
from dask_cluster_launcher.hosting.processes import HostProcess
from dask_cluster_launcher.hosting.records import (
    HostSpec,
    Record,
    pid_alive,
    process_start_time,
    read_records,
)
from dask_cluster_launcher.private import (
    SOCKET_PATH_LIMIT,
    NoPrivatePlace,
    PrivateDir,
    checked_dashboard_socket,
    make_runtime_dir,
    make_scheduler_dirs,
    remove_runtime_dir,
)
from tests.users import ATTACKER, owned_dir


def test_a_long_private_directory_keeps_every_file_of_the_cluster(tmp_path: Path) -> None:
    root = tmp_path / ("a-home-path-as-long-as-on-a-parallel-file-system-" * 3)
    files = PrivateDir.at(root).cluster("0123456789ab").create()
    assert files.directory == root / "clusters" / "0123456789ab"
    for path in (files.cert, files.key, files.worker_preload, files.mpi_runner):
        assert path.parent == files.directory and path.stat().st_mode & 0o777 == 0o600


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder with a short path (pytest's own are too long for a socket's path)."""
    folder = Path(tempfile.mkdtemp(prefix="t-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_socket_folder_is_in_the_sessions_runtime_dir(short_tmp: Path) -> None:
    runtime = short_tmp / "run"
    runtime.mkdir(mode=0o700)
    folder = make_runtime_dir({"XDG_RUNTIME_DIR": str(runtime)})
    assert folder.parent == runtime / "dask-cluster-launcher"
    assert folder.name.startswith("dcl-") and (folder.stat().st_mode & 0o777) == 0o700
    assert (folder.parent.stat().st_mode & 0o777) == 0o700
    remove_runtime_dir(folder)
    assert not folder.exists()


def test_without_a_runtime_dir_of_the_users_the_socket_folder_is_a_fresh_temporary_one(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = short_tmp / "tmp"
    shared.mkdir(mode=0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    # a runtime dir that is someone else's (left in the environment by su) is not used
    theirs = owned_dir(ATTACKER, short_tmp / "theirs", 0o700)
    for environ in ({}, {"XDG_RUNTIME_DIR": str(theirs)}, {"XDG_RUNTIME_DIR": "relative"}):
        folder = make_runtime_dir(environ)
        assert folder.parent == shared and folder.name.startswith("dcl-")
        assert len(folder.name) == len("dcl-") + 8  # mkdtemp's unpredictable name
        assert (folder.stat().st_mode & 0o777) == 0o700
    # two clusters never share one
    assert make_runtime_dir({}) != make_runtime_dir({})


def test_no_short_private_place_refuses_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    with pytest.raises(NoPrivatePlace) as refused:
        make_runtime_dir({})
    message = refused.value.message
    assert str(deep) in message and str(SOCKET_PATH_LIMIT) in message
    assert "XDG_RUNTIME_DIR or TMPDIR" in message
    assert refused.value.status == 500
    assert not [p for p in deep.iterdir()]  # nothing made on the way


def test_scratch_space_is_never_the_in_memory_runtime_dir(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = short_tmp
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    socket, folders = make_scheduler_dirs(scratch=True)
    assert folders == [socket.parent] and socket.parent.parent == temp  # one folder does both
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    socket, folders = make_scheduler_dirs(scratch=True)
    assert socket.parent.parent == runtime / "dask-cluster-launcher"
    assert folders[-1].parent == temp  # the scratch space: on disk
    assert make_scheduler_dirs(scratch=False)[1][-1].parent.parent == runtime


def test_the_relay_uses_a_socket_only_in_a_private_folder_of_the_users(short_tmp: Path) -> None:
    tmp_path = short_tmp
    folder = tmp_path / "dcl-private"
    folder.mkdir(mode=0o700)
    path = str(folder / "dashboard.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        assert checked_dashboard_socket(path) == path
        folder.chmod(0o755)
        with pytest.raises(NotFound, match="open to others"):
            checked_dashboard_socket(path)
        folder.chmod(0o700)
    link = tmp_path / "dcl-link"
    link.symlink_to(folder)
    with pytest.raises(NotFound, match="not a folder"):
        checked_dashboard_socket(str(link / "dashboard.sock"))
    (folder / "file.sock").write_text("")
    with pytest.raises(NotFound, match="not the cluster's dashboard socket"):
        checked_dashboard_socket(str(folder / "file.sock"))


def test_a_record_removes_only_private_folders_named_as_a_hosts(tmp_path: Path) -> None:
    kept = [tmp_path / "not-a-host-folder", tmp_path / "dcl-open"]
    for folder in kept:
        folder.mkdir(mode=0o755)
    (tmp_path / "dcl-open").chmod(0o755)
    link = tmp_path / "dcl-link"
    link.symlink_to(kept[0])
    for path in [*kept, link, Path("relative/dcl-x")]:
        remove_runtime_dir(path)
    assert all(folder.is_dir() for folder in kept) and link.is_symlink()


def _spec(records: Path, cluster_id: str) -> HostSpec:
    return HostSpec(cluster_id, "c", "local", {}, {"workers": 0}, "/nonexistent", str(records))


def test_records_with_an_id_that_is_not_a_plain_name_are_never_read(tmp_path: Path) -> None:
    records = tmp_path / "records"
    Record(_spec(records, "0123456789ab"), os.getpid(), "tls://127.0.0.1:1").write()
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"spec": {}}))
    # a path as an id (a command line's ``stop ../outside``) reads nothing
    assert read_records(records, ["../outside", "/etc/passwd", ""]) == []
    # a record that claims another id than its file's name is not taken
    forged = json.loads((records / "0123456789ab.json").read_text())
    forged["spec"]["cluster_id"] = "../../elsewhere"
    (records / "ffff.json").write_text(json.dumps(forged))
    forged["spec"]["cluster_id"] = "eeee"
    (records / "dddd.json").write_text(json.dumps(forged))
    assert [r.spec.cluster_id for r in read_records(records)] == ["0123456789ab"]


def test_a_reused_pid_is_not_the_host_and_is_never_signalled(tmp_path: Path) -> None:
    """A record outlives its host; its pid may name another process of the user's by now."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_start_time(bystander.pid)
        assert started is not None and pid_alive(bystander.pid, started)
        spec = _spec(tmp_path, "0123456789ab")
        stale = Record(spec, bystander.pid, "tls://127.0.0.1:1", started=started - 5.0)
        assert not stale.alive()
        host = HostProcess.attach(stale, PrivateDir.at(tmp_path).cluster("0123456789ab"))
        assert not host.alive()
        for signum in (signal.SIGTERM, signal.SIGKILL):
            host.signal(signum)
        time.sleep(0.3)
        assert bystander.poll() is None, "a process that is not the host was signalled"
        # the same pid with its own start time is the host: signals reach it
        current = Record(spec, bystander.pid, "tls://127.0.0.1:1", started=started)
        HostProcess.attach(current, PrivateDir.at(tmp_path).cluster("x")).signal(signal.SIGTERM)
        assert bystander.wait(10) == -signal.SIGTERM
        assert not pid_alive(bystander.pid, started)
    finally:
        bystander.kill()
        bystander.wait()


def test_a_hosts_record_says_its_start_time_socket_and_folders(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "0123456789ab")
    record = Record(
        spec,
        os.getpid(),
        "tls://127.0.0.1:1",
        started=process_start_time(os.getpid()),
        dashboard_socket="/run/user/1/dask-cluster-launcher/dcl-abcdefgh/dashboard.sock",
        local_dirs=["/run/user/1/dask-cluster-launcher/dcl-abcdefgh"],
    )
    record.write()
    (again,) = read_records(tmp_path)
    assert again == record and again.alive()


async def test_no_server_of_this_process_listens_for_http_on_tcp(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``private_http`` is imported, a scheduler serves its HTTP routes on the named Unix
    socket only, and a worker on nothing: no TCP listener of HTTP exists at any time."""
    from distributed import Scheduler, Worker
    from distributed.core import Server
    from distributed.node import ServerNode

    # the replacement is for cluster processes: the rest of this test process (the Saturn
    # emulator's schedulers) gets distributed's own back at teardown
    monkeypatch.setattr(ServerNode, "start_http_server", ServerNode.start_http_server)
    monkeypatch.setattr(Server, "listen", Server.listen)
    from tornado.httpclient import AsyncHTTPClient
    from tornado.netutil import Resolver

    from dask_cluster_launcher.hosting.private_http import serve_scheduler_http_on

    folder = short_tmp / "dcl-socket"
    folder.mkdir(mode=0o700)
    path = str(folder / "dashboard.sock")
    before = {c.laddr for c in psutil.Process().net_connections("tcp")}
    serve_scheduler_http_on(path)
    try:
        async with (
            Scheduler(host="127.0.0.1", dashboard_address="127.0.0.1:0") as scheduler,
            Worker(scheduler.address, dashboard_address="127.0.0.1:0") as worker,
        ):
            listening = {
                c.laddr.port
                for c in psutil.Process().net_connections("tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr not in before
            }
            # only the Dask RPC ports (of the scheduler and the worker)
            assert listening == {scheduler.port, worker.port}
            assert worker.http_server.port is None and not worker.http_server._sockets
            assert os.stat(path).st_mode & 0o777 == 0o600

            class ToSocket(Resolver):
                async def resolve(self, host: str, port: int, family: int = 0) -> list:
                    return [(socket.AF_UNIX, path)]

            client = AsyncHTTPClient(force_instance=True, resolver=ToSocket())
            answer = await client.fetch("http://localhost/health")
            assert answer.body == b"ok"
            client.close()
    finally:
        serve_scheduler_http_on(None)


def test_a_launch_without_a_short_private_place_fails_saying_what_to_set(short_tmp: Path) -> None:
    """No fallback to a shared folder: the card says why the cluster could not start."""
    from tests.jupyter_process import JupyterServerProcess

    deep = short_tmp / ("x" * 60) / ("y" * 60)
    deep.mkdir(parents=True)
    home = short_tmp / "home"
    home.mkdir()
    env = {"HOME": str(home), "TMPDIR": str(deep), "XDG_RUNTIME_DIR": ""}
    with JupyterServerProcess(short_tmp / "server", env=env) as server:
        body = {"backend": "local", "options": {}, "scaling": {"workers": 1}}
        cluster_id = server.call("clusters", body)["id"]
        deadline = time.monotonic() + 60
        while (model := server.call(f"clusters/{cluster_id}"))["state"] != "failed":
            assert model["state"] != "running", "it started without a private socket folder"
            assert time.monotonic() < deadline, model
            time.sleep(0.2)
    assert "no private folder for the cluster's dashboard socket" in model["error"]
    assert "set XDG_RUNTIME_DIR or TMPDIR to a short folder" in model["error"]
    assert not list(deep.iterdir())
