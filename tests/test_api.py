"""quick_connect / make_cluster from Python, with a profile, against the real local SLURM."""

from __future__ import annotations

import pytest
import yaml

from dask_cluster_launcher import make_cluster, quick_connect

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
    directory = tmp_path / "dask-cluster-launcher" / "profiles"
    directory.mkdir(parents=True)
    (directory / "testsite.yaml").write_text(yaml.safe_dump(SITE))
    refused = {**SITE, "name": "refused"}
    refused["options"] = {**SITE["options"], "job_extra_directives": ["--gres=bogus:1"]}
    (directory / "refused.yaml").write_text(yaml.safe_dump(refused))
    return directory


def test_quick_connect_adapts_between_minimum_and_maximum(slurm_testbed, user_profile):
    client = quick_connect("testsite", 1, 2, timeout=120)
    cluster = client.cluster
    try:
        assert client.submit(lambda x: x + 1, 1).result() == 2
        assert cluster._adaptive is not None
        assert cluster._adaptive.minimum == 1 and cluster._adaptive.maximum == 2
        names = {job.name for job in slurm_testbed.queue_jobs("dcl-")}
        assert names == {cluster.job_name}
    finally:
        client.close()
        cluster.close()
    slurm_testbed.wait_queue_empty(timeout=30, name_prefix=cluster.job_name)


def test_quick_connect_closes_the_cluster_when_start_up_fails(slurm_testbed, user_profile):
    before = set(slurm_testbed.queue_job_ids("dcl-"))
    with pytest.raises(Exception):  # noqa: B017 - the scheduler's timeout error
        quick_connect("refused", 1, timeout=5)
    assert set(slurm_testbed.queue_job_ids("dcl-")) == before


def test_make_cluster_applies_overrides_without_scaling(slurm_testbed, user_profile):
    cluster = make_cluster("testsite", cores=2, processes=2)
    try:
        assert "--nworkers 2" in cluster.job_script()
        assert cluster.worker_spec == {}
    finally:
        cluster.close()


def test_quick_connect_validates_like_the_server(user_profile):
    from dask_cluster_launcher.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as info:
        quick_connect("testsite", 1, walltime="forever")
    assert info.value.field == "options.walltime"
