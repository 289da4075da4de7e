"""Clusters in one allocation with their workers (``scheduler_placement: one_allocation``, and
the mpi backend; see ``backends/batch/allocation.py``): the host beside Jupyter follows a
scheduler that runs on the first task of the cluster's one batch job. The card names that job
as the scheduler's (its time left is the cluster's); its HTTP routes are closed inside the
job, so no dashboard link is offered."""

from __future__ import annotations

from ..errors import NotFound
from .base import scheduler_up
from .hosted import HostedHandle


class AllocationHandle(HostedHandle):
    @property
    def scheduler_job(self) -> str | None:
        # the cluster's one job (``dcl-<id>``): the scheduler and every worker run in it
        return next((str(job["job_id"]) for job in self.row.job_rows.values()), None)

    def dashboard_url(self, base_url: str) -> str | None:
        return None

    def dashboard_socket(self) -> str:
        if scheduler_up(self.row):
            raise NotFound(
                f"cluster {self.row.name!r} has no dashboard here: its scheduler runs inside "
                "its batch job, where its HTTP routes are closed"
            )
        return super().dashboard_socket()
