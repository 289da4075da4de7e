"""One shape of the cluster model: schema/model/cluster.yaml. openapi.yaml and the events schema
reference it, src/clusterModel.ts is generated from it, and what the server sends is checked
against it (tests/api_schema.py, run by the fixtures on every call and event)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from dask_cluster_launcher import schemas
from scripts.generate_model_types import OUTPUT, ROOT, render
from tests import api_schema
from tests.helpers import wait_cluster

NO_WORKERS = {"backend": "local", "scaling": {"workers": 0}}


def model_schema() -> dict[str, Any]:
    return copy.deepcopy(schemas.load("model/cluster.yaml"))


def test_the_typescript_model_is_generated_from_the_schema():
    written = (ROOT / OUTPUT).read_text(encoding="utf-8")
    assert written == render(model_schema()), (
        f"{OUTPUT} is not what schema/model/cluster.yaml gives: run `jlpm build:model`"
    )


def test_a_field_added_to_the_schema_reaches_the_typescript_types():
    schema = model_schema()
    schema["$defs"]["job"]["properties"]["queue"] = {"type": ["string", "null"]}
    schema["$defs"]["job"]["required"].append("queue")
    schema["$defs"]["fields"]["properties"]["owner"] = {"type": "string", "default": ""}
    typescript = render(schema)
    job = typescript.split("export interface IJob {")[1].split("}")[0]
    cluster = typescript.split("export interface ICluster {")[1].split("}")[0]
    assert "  queue: string | null;" in job
    assert "  owner?: string;" in cluster  # sent always, a default where missing
    assert typescript != (ROOT / OUTPUT).read_text(encoding="utf-8")


def test_the_api_and_the_events_take_the_model_from_its_one_file():
    components = schemas.load("openapi.yaml")["components"]["schemas"]
    assert components["Cluster"]["$ref"] == "model/cluster.yaml"
    assert components["Worker"]["$ref"] == "model/cluster.yaml#/$defs/worker"
    assert components["Job"]["$ref"] == "model/cluster.yaml#/$defs/job"
    event = schemas.load("events/cluster.yaml")["properties"]
    assert event["cluster"]["$ref"] == "../model/cluster.yaml"
    # inlined for validators that resolve references within one document only
    inlined = json.dumps(schemas.inlined("events/cluster.yaml"))
    assert '"$ref"' not in inlined and '"external"' in inlined and '"time_left"' in inlined


async def test_responses_and_events_of_a_launch_follow_the_model(launcher_api, jp_serverapp):
    """launcher_api and the event fixture check every answer and event of this launch; here,
    the answers themselves, and that the checks see a drift either way."""
    code, started = await launcher_api("clusters", method="POST", body=NO_WORKERS)
    assert code == 202 and started["external"] is False and started["kernel"] is None
    model = await wait_cluster(launcher_api, started["id"], lambda m: m["state"] == "running")
    assert model["versions"]["distributed"] and model["scaling"] == {"workers": 0}
    path = f"clusters/{model['id']}"

    with pytest.raises(AssertionError, match="'external' is a required property"):
        api_schema.check_response("GET", path, 200, _without(model, "external"))
    with pytest.raises(AssertionError, match="'queue' was unexpected"):
        api_schema.check_response("GET", path, 200, {**model, "queue": "short"})
    with pytest.raises(AssertionError, match="does not document"):
        api_schema.check_response("DELETE", path, 200, model)
    code, _ = await launcher_api("clusters", model["id"], method="DELETE")
    assert code == 204


def test_events_that_drift_from_the_model_are_found():
    worker = {"name": "0", "address": "tls://127.0.0.1:1", "host": "127.0.0.1", "nthreads": 1,
              "memory_limit": 2**30, "status": "running", "job_id": None}  # fmt: skip
    job = {"job_id": "7", "state": "RUNNING", "reason": None, "host": "n1", "time_left": 60,
           "exit_code": None, "error": None}  # fmt: skip
    good = {"fields": {"state": "running", "external": True}, "workers": {"upsert": [worker]},
            "jobs": {"upsert": [job], "remove": ["6"]}}  # fmt: skip
    assert api_schema.event_errors(api_schema.event_message("changed", "c1", good)) == []

    drifts = {
        "a field the model does not name": {"fields": {"owner": "me"}},
        "a field of the wrong type": {"fields": {"external": "yes"}},
        "a worker row without a field": {"workers": {"upsert": [_without(worker, "nthreads")]}},
        "a job row with an extra field": {"jobs": {"upsert": [{**job, "queue": "short"}]}},
        "whole workers in a patch": {"workers": [worker]},
    }
    for what, patch in drifts.items():
        errors = api_schema.event_errors(api_schema.event_message("changed", "c1", patch))
        assert errors, f"{what} went unnoticed"
    whole = api_schema.event_message("updated", "c1", {"id": "c1", "name": "one"})
    assert any("'external' is a required property" in e for e in api_schema.event_errors(whole))


def _without(row: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != field}
