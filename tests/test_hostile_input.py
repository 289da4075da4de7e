"""Hostile input through the REST API: every string of every backend form, line breaks and
control characters, integers written as floats, deep nesting, huge values, renamed jobs.

The form fields are read from the schemas, so a new field is covered without editing this file.
Every request here fails at validation, before any batch system is asked: no test bed needed.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from dask_cluster_launcher import schemas
from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.backends.batch import directives as d
from dask_cluster_launcher.backends.registry import backend_names
from tests.batch_testbeds import BATCH_SYSTEMS

BAD_CHARACTERS = {
    "newline": "\n",
    "carriage-return": "\r",
    "NUL": "\x00",
    "tab": "\t",
    "escape": "\x1b",
    "NEL": "\x85",
    "line-separator": "\u2028",
    "paragraph-separator": "\u2029",
    "right-to-left-override": "\u202e",
}
# Values to try as the clean part of a field's value: the first one its own schema accepts is
# used, so that the bad character is the only thing wrong.
CANDIDATES = ["a", "1", "2 GB", "01:00:00", "1m", "-a", "--a", "h_vmem=1G", "/tmp/x", "auto"]


def _string_fields() -> list[tuple[str, str, dict[str, Any], bool]]:
    """(backend, field path, schema of the string, inside an array) for every form field."""
    fields = []
    for backend in default_backends().values():
        for name, prop in backend.static_schema()["properties"].items():
            if prop.get("type") == "string":
                fields.append((backend.name, f"options.{name}", prop, False))
            elif prop.get("type") == "array" and prop["items"].get("type") == "string":
                fields.append((backend.name, f"options.{name}.0", prop["items"], True))
    return fields


STRING_FIELDS = _string_fields()


def _count_string_schemas(node: Any) -> int:
    if isinstance(node, list):
        return sum(map(_count_string_schemas, node))
    if not isinstance(node, dict):
        return 0
    own = 1 if node.get("type") == "string" or "string" in (node.get("type") or []) else 0
    return own + sum(_count_string_schemas(v) for v in node.values())


def test_every_string_of_every_form_is_covered():
    # the fields of each static form (the gateway's fields come live from the gateway; its
    # own tests send a line break to them)
    forms = [b.static_schema().get("properties", {}) for b in default_backends().values()]
    assert len(STRING_FIELDS) == sum(map(_count_string_schemas, forms))
    # every registered backend's form is attacked, but the gateway's: its fields come live
    assert {backend for backend, *_ in STRING_FIELDS} == set(backend_names()) - {"gateway"}


def _clean_value(schema: dict[str, Any]) -> str:
    default = schema.get("default")
    for value in [default, *CANDIDATES]:
        if isinstance(value, str) and value and schemas.Validator(schema).is_valid(value):
            return value
    raise AssertionError(f"add a value this schema accepts to CANDIDATES: {schema}")


@pytest.fixture(autouse=True)
def batch_commands_anywhere(monkeypatch):
    """SLURM, SGE and local GPUs count as available even on a machine without them:
    everything here is refused before a batch command runs or a GPU is used (and a site that
    does not answer is no error)."""
    from dask_cluster_launcher.backends.batch.jobqueue import JobQueueBackend
    from dask_cluster_launcher.backends.cuda import CUDABackend

    monkeypatch.setattr(JobQueueBackend, "unavailable_reason", lambda self: None)
    monkeypatch.setattr(CUDABackend, "unavailable_reason", lambda self: None)


@pytest.fixture
def user_dir(tmp_path):
    return tmp_path / "user"


@pytest.fixture
def jp_server_config(user_dir):
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": {
            "site_profile_dirs": [],
            "user_profile_dir": str(user_dir),
            # only so that Saturn counts as available: validation fails before any call
            "saturn_base_url": "http://127.0.0.1:9",
            "saturn_token": "not-a-token",
        },
    }


def _options(backend: str, path: str, value: Any) -> dict[str, Any]:
    """Options that are valid apart from ``value`` at ``path`` (required fields filled in)."""
    schema = default_backends()[backend].static_schema()
    options = {name: schema["properties"][name]["default"] for name in schema.get("required", [])}
    options[path.split(".")[1]] = value
    return options


@pytest.mark.parametrize(
    "backend, path, schema, in_array",
    STRING_FIELDS,
    ids=[f"{backend}-{path}" for backend, path, *_ in STRING_FIELDS],
)
async def test_bad_character_in_a_form_field_is_refused_everywhere(
    launcher_api, user_dir, backend, path, schema, in_array
):
    clean = _clean_value(schema)
    assert schemas.Validator(schema).is_valid(clean)
    for name, character in BAD_CHARACTERS.items():
        value = clean + character  # at the end: where Python's "$" lets a newline through
        options = _options(backend, path, [value] if in_array else value)
        requests = [
            ("preview", {"backend": backend, "options": options}),
            ("clusters", {"backend": backend, "options": options, "scaling": {"workers": 0}}),
            ("profiles", {"name": "hostile", "backend": backend, "options": options}),
        ]
        for route, body in requests:
            code, error = await launcher_api(route, method="POST", body=body)
            assert (code, error["field"]) == (400, path), (name, route, error)
    _, clusters = await launcher_api("clusters")
    assert clusters == []  # nothing half-created
    assert not user_dir.exists() or list(user_dir.iterdir()) == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"backend": "local", "name": "a\u2028b"}, "name"),
        ({"backend": "local\n"}, "backend"),
        ({"profile": "local\n"}, "profile"),
    ],
)
async def test_bad_character_in_the_envelope_is_refused(launcher_api, body, field):
    code, error = await launcher_api("clusters", method="POST", body=body)
    assert (code, error["field"]) == (400, field)


@pytest.mark.parametrize(
    "route, body, field",
    [
        ("clusters", {"backend": "local", "scaling": {"workers": 1.0}}, "scaling.workers"),
        (
            "clusters",
            {"backend": "local", "scaling": {"adapt": {"minimum": 0, "maximum": 1.0}}},
            "scaling.adapt.maximum",
        ),
        (
            "preview",
            {"backend": "local", "options": {"threads_per_worker": 2.0}},
            "options.threads_per_worker",
        ),
        (
            "preview",
            {"backend": "slurm", "options": _options("slurm", "options.cores", 1.0)},
            "options.cores",
        ),
        (
            "profiles",
            {"name": "p", "backend": "local", "scaling": {"workers": 2.0}},
            "scaling.workers",
        ),
    ],
)
async def test_integers_written_as_floats_are_refused(launcher_api, route, body, field):
    code, error = await launcher_api(route, method="POST", body=body)
    assert (code, error["field"]) == (400, field), error
    assert "integer" in error["message"]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"backend": "local", "options": {"a": ' + "[" * 50 + "]" * 50 + "}}",
        '{"name": "p", "backend": "local", "options": ' + '{"a": ' * 30 + "1" + "}" * 31,
        '{"backend": "local", "scaling": {"workers": NaN}}',
    ],
    ids=["decoder", "options", "profile", "NaN"],
)
async def test_deep_nesting_and_non_json_constants_answer_400(launcher_api, text):
    for route in ("clusters", "preview", "profiles"):
        code, error = await launcher_api(route, method="POST", body=text)
        assert code == 400, (route, error)
        assert error["field"]


async def test_huge_values_give_short_answers_and_log_lines(launcher_api, caplog):
    huge = "x" * 200_000  # under the body limit (more is 413: test_request_bounds.py)
    requests = [
        ("clusters", {"backend": "local", "options": {huge: 1}}),
        ("clusters", {"backend": "local", "options": {"memory_limit": huge}}),
        ("clusters", {"backend": "local", "options": {"memory_limit": [huge]}}),
        ("clusters", {"profile": huge}),
        ("preview", {"backend": huge}),
        ("profiles", {"name": "p", "backend": huge}),
        ("profiles", {"name": "p", "backend": "local", "title": huge}),
    ]
    with caplog.at_level(logging.DEBUG):
        for route, body in requests:
            code, error = await launcher_api(route, method="POST", body=body)
            assert code == 400
            assert len(error["message"]) < 300 and len(error["field"]) < 120, error
    assert max(len(record.getMessage()) for record in caplog.records) < 2000
    # a URL is at most 64 KiB (Jupyter's access log shows it whole)
    code, error = await launcher_api("profiles", "y" * 20_000, method="DELETE")
    assert code == 404 and len(error["message"]) < 300


# --- job names --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "backend, directive",
    [
        ("slurm", "-Jx"),
        ("slurm", "--job-name=x"),
        ("slurm", "--job-name"),
        ("slurm", "--job=x"),  # sbatch takes unambiguous abbreviations
        ("slurm", "-vJx"),  # a cluster of short options
        ("sge", "-N x"),
        ("sge", "-m n -N x"),  # one directive line may hold several options
        ("pbs", "-N x"),
        ("pbs", "-m n -N x"),
    ],
)
async def test_directives_that_rename_jobs_are_refused(launcher_api, backend, directive):
    options = _options(backend, "options.job_extra_directives", ["--exclusive", directive])
    if backend in ("sge", "pbs"):
        options["job_extra_directives"][0] = "-m n"
    for route in ("preview", "clusters"):
        code, error = await launcher_api(
            route, method="POST", body={"backend": backend, "options": options}
        )
        assert (code, error["field"]) == (400, "options.job_extra_directives.1"), error


@pytest.mark.parametrize(
    "backend, skip",
    [
        ("slurm", "-J"),
        ("slurm", "J"),
        ("slurm", "dcl"),
        ("slurm", "-e"),
        ("sge", "-N"),
        ("sge", "0a"),
        ("pbs", "-N"),
        ("pbs", "S -N dcl-"),
    ],
)
async def test_skips_that_drop_the_job_name_are_refused(launcher_api, backend, skip):
    options = _options(backend, "options.job_directives_skip", ["--mem", skip])
    code, error = await launcher_api(
        "preview", method="POST", body={"backend": backend, "options": options}
    )
    assert (code, error["field"]) == (400, "options.job_directives_skip.1"), error


@pytest.mark.parametrize("backend", BATCH_SYSTEMS)
async def test_prologue_comments_could_be_directives_and_are_refused(launcher_api, backend):
    options = _options(backend, "options.job_script_prologue", ["module load x", "#SBATCH -J x"])
    code, error = await launcher_api(
        "preview", method="POST", body={"backend": backend, "options": options}
    )
    assert (code, error["field"]) == (400, "options.job_script_prologue.1"), error


@pytest.mark.parametrize(
    "directive, renames",
    [
        ("-J x", True),
        ("#SBATCH -J x", True),
        ("#SBATCH--job-name=x", True),
        ("--jo", True),
        ("-HJx", True),
        ("-pJupiter", False),  # -p takes the rest as its argument
        ("--exclusive=user", False),
        ("--hint=multithread", False),
        ("--job-namex=1", False),
    ],
)
def test_slurm_job_name_directives(directive, renames):
    assert d.slurm_sets_job_name(directive) is renames


@pytest.mark.parametrize(
    "directive, renames",
    [("-N x", True), ("#$ -N x", True), ("-notify", False), ("-l h_vmem=1G", False)],
)
def test_sge_job_name_directives(directive, renames):
    assert d.sge_sets_job_name(directive) is renames


@pytest.mark.parametrize("prefix", ["#SBATCH -J", "#$ -N"])
def test_name_line_skips_agree_with_dask_jobqueues_substring_filter(prefix):
    """A refused value drops the name line for some cluster id; an accepted one for none."""
    rng = random.Random(0)
    ids = [f"{rng.getrandbits(48):012x}" for _ in range(3000)]
    lines = [f"{prefix} dcl-{cluster_id}" for cluster_id in ids]
    values = ["-J", "J", "-N", "N", "#", "dcl", "cl-", "-", "a", "0", "e1", "--mem", "-t", "mem"]
    values += ["-o", "h_rt", "-cwd", "err", "-j", "SBATCH", "0123456789abc", "dcl-0"]
    for skip in values:
        drops = any(skip in line for line in lines)
        if not d.skips_name_line(skip, f"{prefix} dcl-"):
            assert not drops, skip
        elif len(skip) <= 2:  # short refused values do hit some of 3000 random ids
            assert drops, skip


# --- previews leave the disk alone ------------------------------------------------------------
@pytest.mark.parametrize(
    "backend, error_line",
    [("slurm", "#SBATCH -e {}/dcl-preview-%J.err"), ("sge", "#$ -e {}/")],
)
async def test_preview_creates_no_log_directory_and_shows_the_real_directives(
    tmp_path, backend, error_line
):
    from dask_cluster_launcher.manager import ClusterManager
    from dask_cluster_launcher.profiles import ProfileStore

    backends = default_backends()
    manager = ClusterManager(backends, ProfileStore.for_backends(backends, site_dirs=[]))
    log_directory = tmp_path / "logs-here" / "cluster"
    options = {"walltime": "00:20:00", "memory": "1 GB", "log_directory": str(log_directory)}
    preview = await manager.preview({"backend": backend, "options": options})
    assert error_line.format(log_directory) in preview["job_script"].splitlines()
    assert not (tmp_path / "logs-here").exists()
    # dask-jobqueue's skip filter sees the real path, as it will for the real job
    options["job_directives_skip"] = ["logs-here"]
    preview = await manager.preview({"backend": backend, "options": options})
    assert "logs-here" not in preview["job_script"]
    assert "dcl-preview" in preview["job_script"]  # the name line stays
