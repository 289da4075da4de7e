"""ClusterManager without a server: lifecycle, change events, validation, no leftovers."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.errors import ConflictError, InvalidRequest, NotFound
from dask_cluster_launcher.manager import ClusterManager, proxied_dashboard_url
from dask_cluster_launcher.private import PrivateDir
from dask_cluster_launcher.profiles import ProfileStore
from tests.helpers import wait_for

BACKENDS = default_backends()
THREADS = {"backend": "local", "options": {"processes": False}, "scaling": {"workers": 2}}


class Recorder:
    def __init__(self):
        self.events: list[tuple[str, str, dict | None]] = []

    def __call__(self, action, cluster_id, model):
        self.events.append((action, cluster_id, model))

    def states(self, cluster_id):
        """The states the sidebar saw: from whole clusters and from patches that change it."""
        states = []
        for _action, i, payload in self.events:
            if i == cluster_id and payload:
                state = payload.get("state") or payload.get("fields", {}).get("state")
                if state:
                    states.append(state)
        return states


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture(autouse=True)
def private_dirs(tmp_path):
    """Credentials, sockets and logs of these tests' clusters under their own tmp dir."""
    for backend in BACKENDS.values():
        backend.private_dir = PrivateDir.at(tmp_path / "private")
    return tmp_path


@pytest.fixture
def manager(recorder, jp_asyncio_loop, tmp_path):
    manager = ClusterManager(
        BACKENDS,
        ProfileStore.for_backends(BACKENDS),
        recorder,
        base_url="/user/x/",
        records_dir=tmp_path / "records",
    )
    yield manager
    jp_asyncio_loop.run_until_complete(manager.close_all())


async def _running(manager, cluster_id, workers):
    async def check():
        launched = manager.get(cluster_id)
        running = [w for w in launched.workers if w["status"] == "running"]
        return launched.state == "running" and len(running) == workers

    await wait_for(check, timeout=60)


async def test_launch_is_immediate_then_running_with_workers(manager, recorder):
    launched = await manager.launch(THREADS)
    assert launched.state == "starting"
    assert recorder.events[0][0] == "updated" and recorder.states(launched.id) == ["starting"]
    await _running(manager, launched.id, 2)
    model = manager.model(launched)
    assert model["scheduler_address"].startswith("tls://127.0.0.1:")
    assert model["dashboard_url"] == f"/user/x/dask-cluster-launcher/dashboard/{launched.id}/status"
    assert "running" in recorder.states(launched.id)

    await manager.rescale(launched.id, {"workers": 1})
    await _running(manager, launched.id, 1)
    await manager.stop(launched.id)
    assert recorder.events[-1][:2] == ("removed", launched.id)
    assert "stopping" in recorder.states(launched.id)
    with pytest.raises(NotFound):
        manager.get(launched.id)


async def test_stop_while_starting_cancels_the_start(manager, recorder):
    launched = await manager.launch(THREADS)
    await manager.stop(launched.id)
    assert manager.list() == []
    assert recorder.events[-1][0] == "removed"


async def test_failed_start_records_the_reason(recorder, tmp_path):
    manager = ClusterManager(
        BACKENDS,
        ProfileStore.for_backends(BACKENDS),
        recorder,
        start_timeout=0.001,
        records_dir=tmp_path / "records",
    )
    launched = await manager.launch(THREADS)

    async def failed():
        return launched.state == "failed"

    await wait_for(failed, timeout=10)
    assert launched.error == "the cluster did not start in time"
    with pytest.raises(ConflictError):
        await manager.rescale(launched.id, {"workers": 1})
    await manager.close_all()
    assert manager.list() == []


async def test_profiles_fill_options_and_requests_override_them(manager):
    plan = await manager.requests.resolve(
        {"profile": "local", "options": {"threads_per_worker": 3}}
    )
    assert plan.backend.name == "local" and plan.profile == "local"
    assert plan.options == {"threads_per_worker": 3, "processes": True, "memory_limit": "auto"}
    assert plan.scaling == {"workers": 2}


@pytest.mark.parametrize(
    "options, field",
    [
        ({"memory_limit": "0 GB"}, "options.memory_limit"),
        ({"memory_limit": "lots"}, "options.memory_limit"),
        ({"processes": "yes"}, "options.processes"),
    ],
)
async def test_invalid_options_name_the_field(manager, options, field):
    with pytest.raises(InvalidRequest) as info:
        await manager.launch({"backend": "local", "options": options})
    assert info.value.field == field
    assert manager.list() == []


def test_proxied_dashboard_url():
    assert proxied_dashboard_url("/", "http://127.0.0.1:4567/status") == "/proxy/4567/status"
    # a scheduler in this process listening on another interface: still proxied from localhost
    assert proxied_dashboard_url("/b/", "http://10.1.2.3:8787/status") == "/b/proxy/8787/status"
    remote = "https://saturn.example/dash/status"
    assert proxied_dashboard_url("/", remote, on_this_machine=False) == remote
    assert proxied_dashboard_url("/", None) is None


async def test_a_cluster_closed_behind_the_launchers_back_shows_as_failed(manager, recorder):
    launched = await manager.launch(THREADS)
    await _running(manager, launched.id, 2)
    launched.handle.host.signal(signal.SIGKILL)  # the cluster's host process dies

    async def failed():
        return launched.state == "failed"

    await wait_for(failed, timeout=10)
    assert launched.error == "the cluster's host process exited"
    assert manager.model(launched)["workers"] == []
    assert recorder.states(launched.id)[-1] == "failed"


def shared_dirty_mb(pid):
    """Memory a process has written (or its parent had, before a fork) that is mapped by other
    processes too, in MB (``/proc/PID/smaps_rollup``)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Shared_Dirty:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no Shared_Dirty for {pid}")


async def test_hosts_are_forked_from_one_warmed_up_forker(manager):
    """Every launch forks its host from the server's one forker (its imports shared, no Python
    start-up); the forker stays for the next launch. Without a forker (it died) a launch starts
    a new Python, and a new forker gets ready for the launch after."""
    manager.start_watchers()
    forker = manager.hosts.forker_for(BACKENDS["local"])

    async def forker_running():
        return forker.running

    await wait_for(forker_running, timeout=30)
    forker_pid = forker._process.pid
    first = await manager.launch({**THREADS, "options": {"processes": True}})
    second = await manager.launch(THREADS)
    await _running(manager, first.id, 2)
    await _running(manager, second.id, 2)
    for launched in (first, second):
        host = psutil.Process(launched.handle.host.pid)
        assert host.ppid() == forker_pid
        assert host.name() == f"dcl{launched.id}"[:15]
        assert host.cmdline()[-1] == "--forker"  # a fork: no Python of its own
    assert forker.running and forker._process.pid == forker_pid
    # the forker's imports are the hosts' too: tens of MB of written pages shared, not copied
    forked_shared = shared_dirty_mb(first.handle.host.pid)
    assert forked_shared > 10

    forker._process.kill()
    await forker._process.wait()
    third = await manager.launch(THREADS)
    await _running(manager, third.id, 2)
    host = psutil.Process(third.handle.host.pid)
    assert host.ppid() == os.getpid() and host.cmdline()[-1].endswith("host.json")
    assert shared_dirty_mb(host.pid) < forked_shared / 4  # a new Python: its imports its own
    await wait_for(forker_running, timeout=30)  # ready for the next launch
    assert forker._process.pid != forker_pid
    await manager.close_all()
    assert manager.list() == []


async def test_host_forker_off_starts_each_host_as_a_new_python(recorder, tmp_path):
    manager = ClusterManager(
        BACKENDS,
        ProfileStore.for_backends(BACKENDS),
        recorder,
        records_dir=tmp_path / "records",
        host_forker=False,
    )
    manager.start_watchers()
    launched = await manager.launch(THREADS)
    await _running(manager, launched.id, 2)
    assert manager.hosts.forkers == {}  # no warmed-up process kept around
    await manager.close_all()
    assert manager.list() == []
