"""The dashboard relay forwards the dashboard's requests, never the user's Jupyter credentials.

The relay route of a real Jupyter server (with the extension) is pointed at a Unix socket where
a tiny recorder answers and writes down every request it gets. The browser's requests carry
what a logged-in user's do: the token (``Authorization`` header and ``?token=``), Jupyter's
cookies, the ``_xsrf`` argument and XSRF headers. The recorder must see the dashboard's path,
its other arguments and headers, and none of the credentials, over HTTP and websockets.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado import web, websocket
from tornado.httpclient import HTTPClientError
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_unix_socket

from dask_cluster_launcher.errors import NotFound
from dask_cluster_launcher.manager import ClusterManager

TOKEN = "relay-test-token-7f3a9c"  # the server's token in this test
COOKIE = "username-127-0-0-1=secret-session-2e8d; _xsrf=2|secret-xsrf-91b4"
XSRF = "secret-xsrf-91b4"
SECRETS = (TOKEN, "secret-session-2e8d", XSRF)


@pytest.fixture
def jp_server_config(private_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "IdentityProvider": {"token": TOKEN},
        "ClusterLauncherApp": {"private_dir": str(private_dir)},
    }


@pytest.fixture
def jp_auth_header() -> dict[str, str]:
    return {"Authorization": f"token {TOKEN}"}


class Recorder:
    """A tiny HTTP and websocket server on a Unix socket that writes down each request."""

    def __init__(self, path: str) -> None:
        self.requests: list[dict[str, Any]] = []
        requests = self.requests

        class Record(web.RequestHandler):
            def prepare(self) -> None:
                headers = dict(self.request.headers.get_all())
                requests.append({"uri": self.request.uri, "headers": headers})

            def get(self) -> None:
                self.write("recorded")

            def post(self) -> None:
                self.write("recorded")

        class RecordSocket(websocket.WebSocketHandler):
            def prepare(self) -> None:
                headers = dict(self.request.headers.get_all())
                requests.append({"uri": self.request.uri, "headers": headers})

            def on_message(self, message: str | bytes) -> None:
                self.write_message(message)

        app = web.Application([(r"/ws.*", RecordSocket), (r"/.*", Record)])
        self.server = HTTPServer(app)
        self.server.add_socket(bind_unix_socket(path, mode=0o600))

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    folder = Path(tempfile.mkdtemp(prefix="dcl-"))  # short: a socket's path
    recorder = Recorder(str(folder / "dashboard.sock"))
    monkeypatch.setattr(
        ClusterManager, "dashboard_socket", lambda self, cluster_id: str(folder / "dashboard.sock")
    )
    yield recorder
    recorder.close()
    shutil.rmtree(folder, ignore_errors=True)


def leaks(request: dict[str, Any]) -> list[str]:
    text = json.dumps(request)
    found = [secret for secret in SECRETS if secret in text]
    found += [name for name in request["headers"] if name.lower() in ("cookie", "authorization")]
    found += [name for name in request["headers"] if "xsrf" in name.lower()]
    return found


async def test_no_token_cookie_or_xsrf_value_reaches_the_dashboard_socket(
    jp_fetch: Callable[..., Awaitable[Any]],
    jp_ws_fetch: Callable[..., Awaitable[Any]],
    recorder: Recorder,
) -> None:
    credentials = {"Cookie": COOKIE, "X-XSRFToken": XSRF, "X-CSRFToken": XSRF}
    path = ("dask-cluster-launcher", "dashboard", "0123456789ab", "individual-plots.json")
    answer = await jp_fetch(
        *path,
        params={"token": TOKEN, "_xsrf": XSRF, "theme": "dark"},
        headers={**credentials, "X-Dashboard-Setting": "kept"},
    )
    assert answer.body == b"recorded"
    await jp_fetch(*path, method="POST", body="{}", params={"_xsrf": XSRF}, headers=credentials)
    ws = await jp_ws_fetch(
        "dask-cluster-launcher",
        "dashboard",
        "0123456789ab",
        "ws",
        params={"token": TOKEN, "bokeh-session-id": "s1"},
        headers=credentials,
    )
    await ws.write_message("ping")
    assert await ws.read_message() == "ping"
    ws.close()

    get, post, socket = recorder.requests
    # not vacuous: what the dashboard needs arrives
    assert get["uri"] == "/individual-plots.json?theme=dark"
    assert get["headers"]["X-Dashboard-Setting"] == "kept"
    assert post["uri"] == "/individual-plots.json"
    assert socket["uri"] == "/ws?bokeh-session-id=s1"
    found = {request["uri"]: leaks(request) for request in recorder.requests}
    assert not any(found.values()), f"credentials reached the dashboard's socket: {found}"


async def test_the_relay_still_requires_jupyters_authentication(
    jp_fetch: Callable[..., Awaitable[Any]], recorder: Recorder
) -> None:
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(
            "dask-cluster-launcher", "dashboard", "0123456789ab", "status",
            headers={"Authorization": "token wrong"},
            follow_redirects=False,
        )  # fmt: skip
    assert refused.value.code in (302, 403)
    assert recorder.requests == []


async def test_a_dashboard_that_is_not_served_here_says_why(
    jp_fetch: Callable[..., Awaitable[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_here(self: ClusterManager, cluster_id: str) -> str:
        reason = "has no dashboard here: its scheduler runs inside its job"
        raise NotFound(f"cluster '<b>x</b>' {reason}")

    monkeypatch.setattr(ClusterManager, "dashboard_socket", not_here)
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("dask-cluster-launcher", "dashboard", "0123456789ab", "status")
    page = refused.value.response.body.decode()
    assert refused.value.code == 404
    assert "has no dashboard here: its scheduler runs inside its job" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page  # escaped
