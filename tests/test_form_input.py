"""The SLURM and SGE forms' input as the server takes it (issue 22, items 4 and 5): walltimes
written as each batch system reads them are accepted and normalised to the HH:MM:SS the job
script asks for; refusals name the field in the form's words, with the ``field`` path kept; a
resource spec that follows the memory field asks for what the form shows.
"""

from __future__ import annotations

import re

import pytest

from dask_cluster_launcher import schemas
from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.backends.batch import walltimes
from dask_cluster_launcher.errors import InvalidRequest
from dask_cluster_launcher.profiles import ProfileStore
from dask_cluster_launcher.requests import RequestResolver

DEFS = schemas.load("backends/jobqueue.yaml")["$defs"]
BASE = {
    "slurm": {"memory": "1 GB", "cores": 1},
    "sge": {"memory": "1 GB", "cores": 1, "resource_spec": "h_vmem=1G"},
}
#: how each system's job script asks for the walltime
TIME_LINE = {"slurm": r"#SBATCH -t (\S+)", "sge": r"#\$ -l h_rt=(\S+)"}


@pytest.mark.parametrize("field", ["slurm_walltime", "sge_walltime"])
def test_each_rule_gives_its_schema_examples(field):
    schema = DEFS[field]
    rule = walltimes.RULES[schema[walltimes.NORMALISE]]
    for written, meant in schema["x-normalise-examples"].items():
        assert re.fullmatch(schema["pattern"], written), written
        assert rule(written) == meant, written
        assert re.fullmatch(schema["pattern"], meant), meant  # normalised values validate too


async def preview_script(launcher_api, kind: str, options: dict) -> tuple[int, dict]:
    return await launcher_api(
        "preview", method="POST", body={"backend": kind, "options": {**BASE[kind], **options}}
    )


@pytest.mark.parametrize(
    "kind, written, asked",
    [
        ("slurm", "60", "01:00:00"),
        ("slurm", "1-00:00:00", "24:00:00"),
        ("slurm", "45:30", "00:45:30"),
        ("sge", "3600", "01:00:00"),
        ("sge", "1:30:00", "01:30:00"),
    ],
)
async def test_the_batch_systems_own_walltimes_reach_the_job_script_normalised(
    launcher_api, kind, written, asked, request
):
    request.getfixturevalue(f"{kind}_testbed")
    # the debug partition has no time limit; SGE's queues have none either
    queue = {"slurm": {"queue": "debug"}, "sge": {}}[kind]
    code, answer = await preview_script(launcher_api, kind, {"walltime": written, **queue})
    assert code == 200, answer
    assert re.findall(TIME_LINE[kind], answer["job_script"]) == [asked]


@pytest.mark.parametrize(
    "kind, options, field, message",
    [
        ("slurm", {"walltime": "abc"}, "options.walltime", "Walltime per job: use HH:MM:SS"),
        ("sge", {"walltime": "90:00"}, "options.walltime", "Walltime per job: use HH:MM:SS"),
        ("sge", {"walltime": "abc"}, "options.walltime", "Walltime per job: use HH:MM:SS"),
        ("slurm", {"memory": "lots"}, "options.memory", "Memory per job: "),
        ("slurm", {"walltime": "0"}, "options.walltime", "Walltime per job: must be longer"),
        ("sge", {"cores": 0}, "options.cores", "Cores per job: must be at least 1"),
    ],
)
async def test_refusals_name_the_field_in_words(
    launcher_api, kind, options, field, message, request
):
    request.getfixturevalue(f"{kind}_testbed")
    code, answer = await preview_script(launcher_api, kind, {"walltime": "00:10:00", **options})
    assert code == 400, answer
    assert answer["field"] == field
    assert answer["message"].startswith(message), answer
    assert "options." not in answer["message"] and "format that is not allowed" not in str(answer)


async def test_sge_memory_changed_with_its_derived_spec_asks_for_the_new_memory(
    launcher_api, sge_testbed
):
    """The sidebar moves h_vmem with the memory field when the spec was derived from it (the
    seed's 8 G / h_vmem=8G); the job then asks for what the form shows. A spec written by hand
    that asks for less than the memory is refused, naming the field."""
    code, answer = await preview_script(
        launcher_api, "sge", {"walltime": "00:10:00", "memory": "4 G", "resource_spec": "h_vmem=4G"}
    )
    assert code == 200, answer
    assert re.findall(r"#\$ -l (\S+)", answer["job_script"]) == ["h_vmem=4G", "h_rt=00:10:00"]
    code, answer = await preview_script(
        launcher_api, "sge", {"walltime": "00:10:00", "memory": "8 G", "resource_spec": "h_vmem=4G"}
    )
    assert code == 400 and answer["field"] == "options.resource_spec", answer
    assert answer["message"].startswith("Resource request (-l): h_vmem=4G is less than"), answer


async def test_a_profile_override_of_memory_moves_the_h_vmem_derived_from_it(sge_testbed, tmp_path):
    """The Python API and the command line override a profile's options as the sidebar does:
    quick_connect("sge-example", memory="4 G") asks for h_vmem=4G (it was refused: h_vmem=8G is
    more than the memory per job); a spec given with the memory is taken as written."""
    backends = default_backends()
    store = ProfileStore.for_backends(backends, site_dirs=[], user_dir=str(tmp_path))
    resolver = RequestResolver(backends, store)
    plan = await resolver.resolve({"profile": "sge-example", "options": {"memory": "4 G"}})
    kwargs = plan.backend.cluster_kwargs(plan.options, cluster_id="0" * 12, cluster_name="x")
    assert (plan.options["resource_spec"], kwargs["resource_spec"]) == ("h_vmem=4G",) * 2
    written = {"memory": "4 G", "resource_spec": "h_vmem=8G"}
    with pytest.raises(InvalidRequest) as refused:
        await resolver.resolve({"profile": "sge-example", "options": written})
    assert refused.value.field == "options.resource_spec"
