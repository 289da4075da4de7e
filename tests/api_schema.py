"""What the server sends, checked against the schemas it is documented by: each REST response
against its route's response in ``schema/openapi.yaml``, each cluster event against
``schema/events/cluster.yaml``; both take the cluster model from ``schema/model/cluster.yaml``.

``launcher_api`` and the ``cluster_events_follow_the_schema`` fixture (``conftest.py``) and
``JupyterServerProcess.call`` check everything they see, so a field the server sends that the
schema lacks, or one the schema requires that the server leaves out, fails the test that
produced it.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from dask_cluster_launcher import schemas

API = "openapi.yaml"


def _pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    """(pattern of the request path, ``paths`` key), e.g. ``clusters/{cluster_id}``."""
    routes = []
    for template in schemas.load(API)["paths"]:
        parts = re.split(r"(\{[^}]+\})", template.strip("/"))
        pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        routes.append((re.compile(pattern), template))
    return routes


def route_of(path: str) -> str | None:
    """The ``paths`` key of a request path relative to the extension (``clusters/abc``)."""
    path = path.partition("?")[0].strip("/")
    for pattern, template in _routes():
        if pattern.fullmatch(path):
            return template
    return None


def check_response(method: str, path: str, status: int, body: Any) -> None:
    """Fail unless ``body`` is what openapi.yaml says ``method path`` answers with ``status``.

    A success the route does not document fails; an error it does not document (403 from
    Jupyter's authorization, 405 for a method no route has) is Jupyter's, not checked here.
    """
    template = route_of(path)
    if template is None:
        return  # not part of the REST API (the dashboard relay)
    operation = schemas.load(API)["paths"][template].get(method.lower())
    responses = (operation or {}).get("responses", {})
    if str(status) not in responses:
        assert not 200 <= status < 300, (
            f"{method} {path} answered {status}, which schema/openapi.yaml does not document"
        )
        return
    pointer = f"/paths/{_pointer_part(template)}/{method.lower()}/responses/{status}"
    response = responses[str(status)]
    if "$ref" in response:  # a shared response: "#/components/responses/Invalid"
        pointer = response["$ref"].removeprefix("#")
        response = schemas.load(API)
        for part in pointer.strip("/").split("/"):
            response = response[part]
    if "content" not in response:
        assert body is None, f"{method} {path} answered {status} with a body: {body!r}"
        return
    pointer += "/content/application~1json/schema"
    error = best_match(schemas.output_validator(API, pointer).iter_errors(body))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "the body"
        raise AssertionError(
            f"{method} {path} {status}: {where} does not follow schema/openapi.yaml "
            f"({error.message}; schema at {'/'.join(map(str, error.absolute_schema_path))})"
        )


@functools.cache
def _event_validator() -> Any:
    return Draft202012Validator(schemas.inlined("events/cluster.yaml"))


def event_errors(message: dict[str, Any]) -> list[str]:
    """What in a cluster event does not follow schema/events/cluster.yaml."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or 'the event'}: {e.message}"
        for e in _event_validator().iter_errors(message)
    ]


def event_message(action: str, cluster_id: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    """The event the server sends for a manager's ``on_change(action, cluster_id, payload)``."""
    message: dict[str, Any] = {"action": action, "cluster_id": cluster_id}
    if action == "updated" and payload is not None:
        message["cluster"] = payload
    elif action == "changed" and payload is not None:
        message["changes"] = payload
    return message
