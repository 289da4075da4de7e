"""The placement "in one allocation with its workers", the parts that need no batch system:
the job script (SLURMRunner under srun, or dask-mpi under MPI) and what a launch is refused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.backends.batch import allocation
from dask_cluster_launcher.errors import InvalidRequest
from dask_cluster_launcher.private import PrivateDir

ONE_ALLOCATION = {"scheduler_placement": "one_allocation", "walltime": "00:20:00"}


def script_of(backend_name: str, tmp_path: Path, options: dict[str, Any]) -> str:
    backend = default_backends()[backend_name]
    backend.private_dir = PrivateDir.at(tmp_path)
    kwargs = backend.cluster_kwargs(
        {**backend.defaults(), **options}, cluster_id="abc123", cluster_name="x"
    )
    files = backend.private_dir.cluster("abc123")
    return backend.job_script(backend.with_credentials(kwargs, files)) or ""


def test_the_slurm_forms_one_allocation_runs_slurm_runner_on_every_task(tmp_path: Path):
    options = {**ONE_ALLOCATION, "cores": 2, "memory": "1 GB", "qos": "high"}
    script = script_of("slurm", tmp_path, options)
    lines = script.splitlines()
    assert "#SBATCH -J dcl-abc123" in lines  # found and cancelled by its name, as every job
    assert "#SBATCH --cpus-per-task=2" in lines and "#SBATCH --qos=high" in lines
    command = lines[-1]
    # every task: srun with the runner, no MPI anywhere
    assert command.startswith("srun --kill-on-bad-exit=1 --cpus-per-task=2 ")
    assert "dcl_mpi_run.py --slurm-runner --scheduler-file" in command
    assert str(tmp_path / "clusters" / "abc123" / "scheduler.json") in command  # the private folder
    assert "--protocol tls" in command and "--nthreads 2" in command
    assert "mpirun" not in script and "OMPI_" not in script
    assert "export DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True" in lines


def test_the_mpi_backend_is_the_same_job_with_dask_mpi(tmp_path: Path):
    script = script_of("mpi", tmp_path, {"walltime": "00:20:00", "launcher": "srun-pmix"})
    command = script.splitlines()[-1]
    assert command.startswith("srun --mpi=pmix ") and "--slurm-runner" not in command
    assert "dcl_mpi_run.py --scheduler-file" in command


@pytest.mark.parametrize(
    ("backend_name", "options", "scaling", "field"),
    [
        ("slurm", {}, {"adapt": {"minimum": 1, "maximum": 3}}, "scaling.adapt"),
        ("slurm", {"processes": 2, "cores": 2}, {"workers": 2}, "options.processes"),
        ("sge", {}, {"workers": 2}, "options.scheduler_placement"),
    ],
)
def test_what_one_allocation_cannot_do_is_refused_naming_the_field(
    backend_name: str, options: dict[str, Any], scaling: dict[str, Any], field: str
):
    backend = default_backends()[backend_name]
    validated = {**backend.defaults(), **ONE_ALLOCATION, **options}
    with pytest.raises(InvalidRequest) as refused:
        allocation.check_request(backend, validated, scaling)
    assert refused.value.field == field


def test_beside_jupyter_and_own_job_are_not_refused_anything_new():
    backend = default_backends()["slurm"]
    for placement in ("beside_jupyter", "own_job"):
        options = {**backend.defaults(), "scheduler_placement": placement, "processes": 2}
        allocation.check_request(backend, options, {"adapt": {"minimum": 1, "maximum": 3}})


@pytest.mark.parametrize(("backend_name", "offered"), [("slurm", True), ("sge", False)])
async def test_only_the_slurm_form_offers_one_allocation(backend_name: str, offered: bool):
    backend = default_backends()[backend_name]
    backend._site_time = time.monotonic()  # the site read just now (no queues): no batch command
    schema = await backend.form_schema()
    choices = [c["const"] for c in schema["properties"]["scheduler_placement"]["oneOf"]]
    assert ("one_allocation" in choices) is offered
    assert choices[:2] == ["beside_jupyter", "own_job"]
