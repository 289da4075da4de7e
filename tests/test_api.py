"""quick_connect / make_cluster from Python, with a profile, against the real local SLURM.

quick_connect and make_cluster start their cluster in a host process (as the sidebar does) that
writes a record in the Jupyter runtime directory; make_cluster returns a cluster object for it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
import yaml

from dask_cluster_launcher import make_cluster, quick_connect
from dask_cluster_launcher.hosting.records import Record, pid_alive, read_records
from dask_cluster_launcher.hosting.spawn import HOST_MODULE
from dask_cluster_launcher.private import PrivateDir
from tests.helpers import wait_until

SITE = {
    "name": "testsite",
    "title": "Test site (SLURM)",
    "backend": "slurm",
    "options": {"cores": 1, "memory": "1 GB", "walltime": "00:20:00"},
    "scaling": {"workers": 1},
}


@pytest.fixture
def user_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    directory = tmp_path / "dask-cluster-launcher" / "profiles"
    directory.mkdir(parents=True)
    (directory / "testsite.yaml").write_text(yaml.safe_dump(SITE))
    refused = {**SITE, "name": "refused"}
    # a constraint no node has: sbatch refuses the submission
    refused["options"] = {**SITE["options"], "job_extra_directives": ["--constraint=bogus"]}
    (directory / "refused.yaml").write_text(yaml.safe_dump(refused))
    return directory


def records(tmp_path: Path) -> list[Record]:
    return read_records(tmp_path / "runtime" / "dask-cluster-launcher")


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"host {pid} still runs after {timeout} s"
        time.sleep(0.1)


def stop_host(record: Record) -> None:
    """What stopping it in the sidebar does to the host: stop the cluster, cancel its jobs."""
    os.kill(record.pid, signal.SIGTERM)
    wait_gone(record.pid, 60)


def host_children() -> list[psutil.Process]:
    return [child for child in psutil.Process().children() if HOST_MODULE in child.cmdline()]


def test_quick_connect_adapts_between_minimum_and_maximum(slurm_testbed, user_profile, tmp_path):
    client = quick_connect("testsite", 1, 2, timeout=120, private_dir=tmp_path / "private")
    [record] = records(tmp_path)
    job_name = f"dcl-{record.spec.cluster_id}"
    try:
        assert client.submit(lambda x: x + 1, 1).result() == 2
        assert record.spec.scaling == {"adapt": {"minimum": 1, "maximum": 2}}
        assert (record.spec.name, record.spec.profile) == ("testsite", "testsite")
        jobs = slurm_testbed.queue_jobs(job_name)
        assert 1 <= len(jobs) <= 2 and {job.name for job in jobs} == {job_name}
    finally:
        client.close()
        stop_host(record)
    slurm_testbed.wait_queue_empty(timeout=30, name_prefix=job_name)
    assert not records(tmp_path)


def test_quick_connect_closes_the_cluster_when_start_up_fails(
    slurm_testbed, user_profile, tmp_path
):
    before = set(slurm_testbed.queue_job_ids("dcl-"))
    with pytest.raises(RuntimeError, match="feature"):
        quick_connect("refused", 1, timeout=20, private_dir=tmp_path / "private")
    assert set(slurm_testbed.queue_job_ids("dcl-")) <= before
    assert not records(tmp_path) and not host_children()


def test_the_cluster_outlives_the_launcher_while_a_client_is_connected(user_profile, tmp_path):
    # no Jupyter server watches it: with a 1 s grace period, only the client keeps it
    client = quick_connect("local", 1, grace_period=1, private_dir=tmp_path / "private")
    [record] = records(tmp_path)
    try:
        time.sleep(3)
        assert client.submit(lambda x: x + 1, 1).result() == 2
        assert pid_alive(record.pid)
    finally:
        client.close()
    wait_gone(record.pid, 30)  # and with no client, it stopped itself
    assert not records(tmp_path)
    files = PrivateDir.at(tmp_path / "private").cluster(record.spec.cluster_id)
    assert not files.directory.exists()


def test_make_cluster_applies_overrides_without_scaling(slurm_testbed, user_profile, tmp_path):
    cluster = make_cluster("testsite", cores=2, processes=2, private_dir=tmp_path / "private")
    [record] = records(tmp_path)
    job_name = f"dcl-{record.spec.cluster_id}"
    try:
        assert "--nworkers 2" in cluster.job_script()
        assert cluster.scaling == {"workers": 0}
        assert record.spec.kwargs["cores"] == 2 and not slurm_testbed.queue_jobs(job_name)
        cluster.scale(2)  # one job of 2 worker processes, submitted by the host
        wait_until(lambda: len(slurm_testbed.queue_jobs(job_name)) == 1, 30, "the job")
    finally:
        cluster.close()
    assert not pid_alive(record.pid) and not records(tmp_path)
    slurm_testbed.wait_queue_empty(timeout=30, name_prefix=job_name)


def test_quick_connect_validates_like_the_server(user_profile):
    from dask_cluster_launcher.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as info:
        quick_connect("testsite", 1, walltime="forever")
    assert info.value.field == "options.walltime"
