"""Parsing batch-system output and the site cache, without a server."""

from __future__ import annotations

import asyncio

import pytest

from dask_cluster_launcher.backends import jobqueue
from dask_cluster_launcher.backends.sge import SGEBackend, _queue, resource_value, sge_seconds
from dask_cluster_launcher.backends.slurm import SLURMBackend, slurm_seconds


@pytest.mark.parametrize(
    "limit, seconds",
    [
        ("infinite", None),
        ("UNLIMITED", None),
        ("30:00", 1800),
        ("45", 2700),
        ("1:00:00", 3600),
        ("1-00:00:00", 86400),
        ("2-12", 2 * 86400 + 12 * 3600),
    ],
)
def test_slurm_time_limits(limit, seconds):
    assert slurm_seconds(limit) == seconds


@pytest.mark.parametrize("value, seconds", [("INFINITY", None), ("0:30:0", 1800), ("1800", 1800)])
def test_sge_time_limits(value, seconds):
    assert sge_seconds(value) == seconds


def test_walltime_and_limits():
    assert jobqueue.walltime_seconds("1-02:03:04") == 93784
    assert jobqueue._most([10, None]) is None
    assert jobqueue._most([10, 30]) == 30
    assert resource_value("mem_free=2G,h_vmem=8G", "h_vmem") == "8G"
    assert resource_value("", "h_vmem") is None


def test_sge_queue_configuration():
    queue = _queue("qname short.q\nslots 1,[node1=8],[node2=16]\nh_rt 0:30:0\n")
    assert (queue.name, queue.cpus, queue.time_limit) == ("short.q", 16, 1800)


class CountingSLURM(SLURMBackend):
    site_cache_seconds = 0.0

    def __init__(self):
        super().__init__()
        self.reads = 0

    async def discover_queues(self):
        self.reads += 1
        await asyncio.sleep(0.2)
        return [jobqueue.Queue(name=f"read-{self.reads}")]


async def test_site_is_read_once_then_refreshed_in_the_background():
    backend = CountingSLURM()
    first, second = await asyncio.gather(backend.queues(), backend.queues())
    assert [q.name for q in first] == ["read-1"] and backend.reads == 1
    assert [q.name for q in second] == ["read-1"]
    # stale: answered at once from the cache while a refresh runs
    stale = await asyncio.wait_for(backend.queues(), 0.1)
    assert [q.name for q in stale] == ["read-1"]
    await backend._site_refresh
    assert [q.name for q in await backend.queues()] == ["read-2"]
    await backend._site_refresh  # the next background read (the cache lasts 0 s here)


def test_sge_backend_names_its_memory_resource():
    assert SGEBackend.memory_resource == "h_vmem"


def test_dask_config_prefills_the_form_and_old_names_are_read():
    import dask
    import dask_jobqueue  # noqa: F401 - registers its defaults before the temporary config

    config = {
        "jobqueue.slurm.memory": "7 GB",
        "jobqueue.slurm.job-extra": ["--exclusive"],  # the old name of job-extra-directives
        "jobqueue.slurm.walltime": "00:30:00",  # dask-jobqueue's own default: not a user choice
    }
    with dask.config.set(config):
        defaults = SLURMBackend().defaults()
    assert defaults["memory"] == "7 GB"
    assert defaults["job_extra_directives"] == ["--exclusive"]
    assert defaults["walltime"] == "01:00:00"
