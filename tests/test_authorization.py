"""Authorization: a deployment's Authorizer decides who may use the launcher, and for what.

Every route is authorized on the resource ``dask_cluster_launcher``: GET routes and the preview
are ``read``, saving profiles and stopping clusters ``write``, launching and scaling ``execute``.
"""

from __future__ import annotations

import json

import pytest
from jupyter_server.auth.authorizer import Authorizer

from dask_cluster_launcher.handlers import AUTH_RESOURCE
from tests.test_auth import _route_calls

# valid bodies: a refusal can only come from the Authorizer
BODIES = {
    ("POST", "clusters"): {"backend": "local", "scaling": {"workers": 0}},
    ("POST", "preview"): {"backend": "local"},
    ("POST", "profiles"): {"name": "mine", "backend": "local"},
    ("PUT", "profiles/some-id"): {"name": "some-id", "backend": "local"},
    ("PATCH", "clusters/some-id"): {"workers": 1},
}
ACTIONS = {("POST", "preview"): "read", ("POST", "clusters"): "execute"}
ACTIONS[("PATCH", "clusters/some-id")] = "execute"


def expected_action(method: str, path: str) -> str:
    return ACTIONS.get((method, path), "read" if method == "GET" else "write")


class DenyLauncher(Authorizer):
    """Allows everything but the launcher."""

    def is_authorized(self, handler, user, action, resource):
        return resource != AUTH_RESOURCE


class LauncherReadOnly(Authorizer):
    """Allows only reading the launcher; records what it was asked."""

    asked: list[tuple[str, str, str]] = []

    def is_authorized(self, handler, user, action, resource):
        if resource == AUTH_RESOURCE:
            self.asked.append((handler.request.method, handler.request.path, action))
        return resource != AUTH_RESOURCE or action == "read"


@pytest.fixture
def user_dir(tmp_path):
    return tmp_path / "user"


@pytest.fixture(params=[DenyLauncher, LauncherReadOnly])
def authorizer(request):
    return request.param


@pytest.fixture
def jp_server_config(authorizer, user_dir):
    return {
        "ServerApp": {
            "jpserver_extensions": {"dask_cluster_launcher": True},
            "authorizer_class": authorizer,
        },
        "ClusterLauncherApp": {"site_profile_dirs": [], "user_profile_dir": str(user_dir)},
    }


async def test_the_authorizer_decides_on_every_route(jp_fetch, jp_serverapp, authorizer, user_dir):
    for method, path in _route_calls():
        body = BODIES.get((method, path), {} if method in ("POST", "PATCH", "PUT") else None)
        response = await jp_fetch(
            "dask-cluster-launcher",
            *path.split("/"),
            method=method,
            body=None if body is None else json.dumps(body),
            raise_error=False,
        )
        action = expected_action(method, path)
        denied = authorizer is DenyLauncher or action != "read"
        assert (response.code == 403) is denied, (method, path, response.code)
    # denied requests changed nothing
    manager = jp_serverapp.web_app.settings["dask_cluster_launcher_manager"]
    assert manager.list() == []
    assert not user_dir.exists() or list(user_dir.iterdir()) == []
    # the rest of Jupyter is not the launcher's resource
    response = await jp_fetch("api", "status")
    assert response.code == 200


@pytest.mark.parametrize("authorizer", [LauncherReadOnly])
async def test_each_route_asks_for_its_action(jp_fetch, authorizer):
    LauncherReadOnly.asked.clear()
    for method, path in _route_calls():
        body = BODIES.get((method, path), {} if method in ("POST", "PATCH", "PUT") else None)
        await jp_fetch(
            "dask-cluster-launcher",
            *path.split("/"),
            method=method,
            body=None if body is None else json.dumps(body),
            raise_error=False,
        )
        assert LauncherReadOnly.asked[-1][0::2] == (method, expected_action(method, path))
    assert len(LauncherReadOnly.asked) == len(_route_calls())
