"""MPI: the placement "in one allocation with its workers" (``allocation.py``) with dask-mpi.

The SLURM form's ``scheduler_placement: one_allocation`` starts the job's tasks with ``srun``
and dask-jobqueue's SLURMRunner; this backend is the same job (one ``sbatch
--ntasks=<workers + 1>``, the scheduler on rank 0, a worker on each other rank) for sites whose
software expects MPI: dask-mpi under ``mpirun`` or ``srun --mpi=pmix|pmi2``. Its form is the
SLURM form's job fields and the MPI launcher. Everything else (the site checks, job watching by
name, job logs, reaping, ``OneAllocationJob``) is the SLURM backend's.
"""

from __future__ import annotations

import copy
from typing import Any

from ..base import Backend
from . import allocation
from .slurm import SLURMBackend

#: Said when an MPI cluster is asked to change size (see ``allocation.FIXED_SIZE``).
FIXED_SIZE = allocation.FIXED_SIZE
#: What the SLURM checks read that this form does not have.
_NOT_IN_THIS_FORM = {
    "processes": 1,
    "config_name": "",
    "lifetime": "",
    "lifetime_stagger": "",
    "scheduler_interface": "",
    "job_directives_skip": [],
    "scheduler_placement": allocation.ONE_ALLOCATION,
}
#: Fields whose live site choices (partitions, accounts, QOS, GRES) come from the SLURM form.
_SITE_FIELDS = ("queue", "account", "qos", "gres")


class MPIBackend(SLURMBackend):
    name = "mpi"
    title = "MPI (one SLURM job)"
    schema_file = "backends/mpi.yaml"
    cluster_class_path = "dask_cluster_launcher.backends.batch.allocation.OneAllocationJob"
    dashboard_on_this_machine = False

    async def form_schema(self) -> dict[str, Any]:
        schema = await Backend.form_schema(self)
        slurm = copy.copy(self)  # the same site cache, the SLURM form
        slurm.schema_file = SLURMBackend.schema_file
        site = (await SLURMBackend.form_schema(slurm))["properties"]
        for key in _SITE_FIELDS:
            schema["properties"][key] = site[key]
        return schema

    def defaults(self) -> dict[str, Any]:
        # only this form's fields: the sidebar sends the defaults back with a launch
        properties = self.static_schema()["properties"]
        return {k: v for k, v in super().defaults().items() if k in properties}

    async def check_consistency(self, options: dict[str, Any]) -> None:
        await super().check_consistency({**_NOT_IN_THIS_FORM, **options})

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        return self.allocation_kwargs(options, cluster_id, options["launcher"])

    def config_profiles(self) -> list[dict[str, Any]]:
        return []  # a jobqueue.<name> section is a SLURMCluster's (offered by the SLURM backend)

    def check_scaling(self, scaling: dict[str, Any], prefix: str) -> None:
        allocation.refuse_adaptive(scaling, prefix)
