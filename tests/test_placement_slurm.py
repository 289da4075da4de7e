"""The scheduler in a batch job of its own on the SLURM test bed (see ``placement_cases``)."""

from collections.abc import Iterator

import pytest

from tests import placement_cases as cases
from tests.batch_testbeds import Testbed


@pytest.fixture(scope="module")
def in_job(
    tmp_path_factory: pytest.TempPathFactory, slurm_testbed: Testbed
) -> Iterator[cases.InJobCluster]:
    yield from cases.in_job_cluster(tmp_path_factory, slurm_testbed, "slurm", "SLURM_JOB_ID")


# the cases, in the order they run on the module's one cluster
test_the_scheduler_runs_inside_its_own_batch_job_and_computes = (
    cases.test_the_scheduler_runs_inside_its_own_batch_job_and_computes
)
test_a_forbidden_placement_is_refused_naming_the_field = (
    cases.test_a_forbidden_placement_is_refused_naming_the_field
)
test_a_new_server_takes_the_cluster_back_after_a_crash = (
    cases.test_a_new_server_takes_the_cluster_back_after_a_crash
)
test_a_stop_leaves_no_job_the_schedulers_included = (
    cases.test_a_stop_leaves_no_job_the_schedulers_included
)
