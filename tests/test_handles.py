"""Cluster handles (``dask_cluster_launcher.handles``): how the manager holds a cluster, with
real parts: a Dask scheduler in this process for a cluster held here, real host processes for
hosted clusters. What is asserted is what the sidebar would show."""

from __future__ import annotations

import asyncio
import os

import pytest
from distributed import Scheduler

from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.handles import InProcessHandle, Reports
from dask_cluster_launcher.hosting.processes import HostProcess
from dask_cluster_launcher.hosting.records import read_records
from dask_cluster_launcher.launched import LaunchedCluster
from dask_cluster_launcher.manager import ClusterManager
from dask_cluster_launcher.private import PrivateDir
from dask_cluster_launcher.profiles import ProfileStore
from tests.helpers import wait_for
from tests.test_manager import THREADS, Recorder, _running

BACKENDS = default_backends()


@pytest.fixture(autouse=True)
def private_dirs(tmp_path):
    for backend in BACKENDS.values():
        backend.private_dir = PrivateDir.at(tmp_path / "private")


class Reported:
    """What a handle reported, in order."""

    def __init__(self) -> None:
        self.published = 0
        self.failures: list[str] = []
        self.ended = 0

    def reports(self) -> Reports:
        async def fail(reason: str) -> None:
            self.failures.append(reason)

        def publish() -> None:
            self.published += 1

        def ended() -> None:
            self.ended += 1

        return Reports(publish=publish, fail=fail, ended=ended)


async def test_a_cluster_held_here_reports_its_scheduler_gone_once_through_fail():
    backend = BACKENDS["existing"]
    reported = Reported()
    async with Scheduler(host="127.0.0.1", port=0, dashboard_address=":0") as scheduler:
        # lost when it has not answered for twice the connection timeout (10 s by default)
        options = await backend.validate({"address": scheduler.address, "connect_timeout": 2})
        kwargs = backend.cluster_kwargs(options, cluster_id="c1", cluster_name="mine")
        row = LaunchedCluster("c1", "mine", backend, options, kwargs, {"workers": 0})
        handle = InProcessHandle(
            row, backend, reported.reports(), kwargs=kwargs, start_timeout=30, poll_interval=0.05
        )
        task = asyncio.create_task(handle.run())

        async def running():
            return row.state == "running"

        await wait_for(running, timeout=30)
        assert row.scheduler_address == scheduler.address and reported.published >= 1
        assert "Client(" in handle.client_code("/user/x/")
        assert handle.outlives_server is False and handle.external is False
    # the scheduler is gone: one failure with a reason for the user, and the handle stops following
    await asyncio.wait_for(task, timeout=30)
    assert len(reported.failures) == 1 and reported.failures[0]
    assert reported.ended == 0
    await handle.stop()


@pytest.fixture
def records(tmp_path):
    return tmp_path / "records"


def new_manager(recorder, records, **kwargs):
    profiles = ProfileStore.for_backends(BACKENDS)
    return ClusterManager(BACKENDS, profiles, recorder, records_dir=records, **kwargs)


async def test_a_hosted_cluster_let_go_keeps_running_and_the_next_manager_takes_it_back(records):
    first = new_manager(Recorder(), records, host_forker=False)
    launched = await first.launch(THREADS)
    await _running(first, launched.id, 2)
    pid = launched.handle.host.pid
    await first.close_all(keep_running=True)
    assert first.list() == []
    os.kill(pid, 0)  # still running, with its record
    assert [r.spec.cluster_id for r in read_records(records)] == [launched.id]

    recorder = Recorder()
    second = new_manager(recorder, records, host_forker=False)
    try:
        await second.reattach()
        await _running(second, launched.id, 2)
        model = second.model(second.get(launched.id))
        assert model["external"] is False and model["name"] == launched.name
        assert model["dashboard_url"] == f"/dask-cluster-launcher/dashboard/{launched.id}/status"
    finally:
        await second.close_all()
    assert recorder.events[-1][:2] == ("removed", launched.id)

    async def host_gone():
        return read_records(records) == []  # a host removes its record as it exits

    await wait_for(host_gone, timeout=30)


async def test_a_hosted_cluster_stopped_by_its_owner_elsewhere_leaves_without_failing(records):
    recorder = Recorder()
    manager = new_manager(recorder, records, host_forker=False)
    try:
        launched = await manager.launch(THREADS)
        await _running(manager, launched.id, 2)
        # what a notebook's make_cluster object does on close(): stop the host itself
        record = read_records(records, [launched.id])[0]
        await HostProcess.attach(record, launched.handle.files).stop()

        async def removed():
            return manager.list() == []

        await wait_for(removed, timeout=30)
        assert "failed" not in recorder.states(launched.id)
        assert recorder.events[-1][:2] == ("removed", launched.id)
        await asyncio.sleep(1.5)  # the records watcher does not take it back
        assert manager.list() == []
    finally:
        await manager.close_all()
