"""HTTP handlers: parse, validate the envelope, call the manager, map errors. Nothing more.

Every method is authenticated (``@web.authenticated``) and then authorized (``@authorized``) on
the resource :data:`AUTH_RESOURCE`, so that a deployment's Authorizer can deny the launcher, or
allow only part of it:

- ``read``: list backends, profiles and clusters, receive cluster events, read snippets (but
  one that holds a private key) and job logs, preview a launch (it computes a script and
  changes nothing);
- ``write``: save or delete profiles, stop a cluster;
- ``execute``: launch or scale a cluster (it starts processes and batch jobs that run commands),
  read a snippet that holds the cluster's private key (Saturn's external TLS mode).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web, websocket

from . import events, schemas, snippets
from .errors import ConflictError, InvalidRequest, LauncherError, NotFound, RequestTooLarge, shorten
from .manager import ClusterManager

AUTH_RESOURCE = "dask_cluster_launcher"
#: Largest request body accepted, in bytes. The largest valid request (a profile with every
#: list full and every string at its maxLength) is about 50 KB, under 150 KB with every
#: character that may be non-ASCII written as \uXXXX; a larger body is answered 413 before it
#: is parsed, and what is parsed is bounded in values too (``schemas.MAX_VALUES``).
MAX_BODY_BYTES = 256 * 1024


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and no field needs them.
    raise ValueError(f"{name} is not JSON")


def parse_request(text: bytes, component: str) -> dict[str, Any]:
    """A request body parsed and checked against ``components/schemas/<component>``."""
    try:
        body = json.loads(text or b"null", parse_constant=_no_constant)
    except ValueError:
        raise InvalidRequest("body: is not valid JSON", field="body") from None
    except RecursionError:  # the decoder recurses once per level of nesting
        raise InvalidRequest("body: is nested too deeply", field="body") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body: must be a JSON object", field="body")
    schemas.check_request(body, component)
    return body


class Forbidden(LauncherError):
    """The caller may use the launcher, but not for this."""

    status = 403


class LauncherHandler(APIHandler):
    """Base handler: JSON bodies, and LauncherError -> 400/404/409 with ``{message, field}``."""

    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> ClusterManager:
        return self.settings["dask_cluster_launcher_manager"]

    async def json_body(self, component: str) -> dict[str, Any]:
        text = self.request.body
        if len(text) > MAX_BODY_BYTES:
            raise RequestTooLarge(
                f"body: is {len(text)} bytes; requests here are at most {MAX_BODY_BYTES}",
                field="body",
            )
        # in a thread: parsing and validating take the GIL in slices, never the event loop
        # for the whole body (a 5 MB body held every other request for 16 s)
        return await asyncio.to_thread(parse_request, text, component)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, LauncherError):
            status_code = error.status
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, LauncherError):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": error.message, "field": error.field}))
        else:
            super().write_error(status_code, **kwargs)

    async def may(self, action: str) -> bool:
        """Whether the Authorizer lets the caller do ``action`` on the launcher."""
        authorizer = self.authorizer
        return bool(
            await ensure_async(
                authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)
            )
        )

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, LauncherError):
            path = shorten(self.request.path, 200)  # a URL holds up to 64 KiB
            self.log.info("%s %s: %s", self.request.method, path, value.message)
        else:
            super().log_exception(typ, value, tb)


class BackendsHandler(LauncherHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps(await self.manager.describe_backends()))


class ProfilesHandler(LauncherHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps(await asyncio.to_thread(self.manager.profiles.models)))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = await self.json_body("ProfileRequest")
        profile = await asyncio.to_thread(self.manager.profiles.save, body)
        self.set_status(201)
        self.finish(json.dumps(profile.to_model()))


class ProfileHandler(LauncherHandler):
    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        body = await self.json_body("ProfileRequest")
        profile = await asyncio.to_thread(self.manager.profiles.save, body, replace=name)
        self.finish(json.dumps(profile.to_model()))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self.manager.profiles.delete, name)
        self.set_status(204)
        self.finish()


class ClustersHandler(LauncherHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps([self.manager.model(c) for c in self.manager.list()]))

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        launched = await self.manager.launch(await self.json_body("LaunchRequest"))
        self.set_status(202)
        self.finish(json.dumps(self.manager.model(launched)))


class ClusterHandler(LauncherHandler):
    @web.authenticated
    @authorized
    async def get(self, cluster_id: str) -> None:
        self.finish(json.dumps(self.manager.model(self.manager.get(cluster_id))))

    @web.authenticated
    @authorized("execute")
    async def patch(self, cluster_id: str) -> None:
        self.manager.get(cluster_id)  # 404 before 400 for unknown clusters
        launched = await self.manager.rescale(cluster_id, await self.json_body("Scaling"))
        self.finish(json.dumps(self.manager.model(launched)))

    @web.authenticated
    @authorized
    async def delete(self, cluster_id: str) -> None:
        try:
            await self.manager.stop(cluster_id)
        except ConflictError:
            # another DELETE is stopping it: the outcome this one asks for is under way
            try:
                if self.manager.get(cluster_id).state != "stopping":
                    raise
            except NotFound:
                pass  # and it has stopped meanwhile
        self.set_status(204)
        self.finish()


class SnippetHandler(LauncherHandler):
    @web.authenticated
    @authorized
    async def get(self, cluster_id: str) -> None:
        # ?kernel=NAME: the notebook's kernel, checked against the cluster's versions
        notebook = await self.manager.notebook_code(cluster_id, self.get_argument("kernel", None))
        if snippets.holds_private_key(notebook.code) and not await self.may("execute"):
            # whoever holds the key can use the cluster: a reader may not take it away
            raise Forbidden(
                "this cluster's client code holds its private TLS key; reading it needs the "
                "permission to run clusters (execute)"
            )
        # connect_code: the short form the sidebar inserts; code: the explicit one (copied)
        self.finish(json.dumps(dataclasses.asdict(notebook)))


class JobLogHandler(LauncherHandler):
    @web.authenticated
    @authorized
    async def get(self, cluster_id: str, job_id: str) -> None:
        self.finish(json.dumps(await self.manager.job_log(cluster_id, job_id)))


class PreviewHandler(LauncherHandler):
    @web.authenticated
    @authorized("read")
    async def post(self) -> None:
        self.finish(json.dumps(await self.manager.preview(await self.json_body("PreviewRequest"))))


class ClusterEventsHandler(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """The cluster events (see ``events``), for callers authorized to ``read`` the launcher.

    The authorization is checked once, when the socket opens, as Jupyter Server does for its
    own event and kernel sockets. Clients only receive: whatever they send is ignored.
    """

    auth_resource = AUTH_RESOURCE

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        user = self.current_user
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, user, "read", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)
        publisher = events.publisher_of(self.event_logger)
        if publisher is None:
            raise web.HTTPError(503, "the launcher's cluster events are not set up")
        self._publisher = publisher
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # keep-alive pings
        self._publisher.subscribe(self._send)

    def _send(self, text: str) -> None:
        try:
            self.write_message(text)
        except websocket.WebSocketClosedError:  # gone without a close handshake
            self._publisher.unsubscribe(self._send)

    def on_message(self, message: str | bytes) -> None:
        pass

    def on_close(self) -> None:
        self._publisher.unsubscribe(self._send)


_ID = r"(?P<cluster_id>[^/]+)"
ROUTES: list[tuple[str, type[JupyterHandler]]] = [
    ("backends", BackendsHandler),
    ("profiles", ProfilesHandler),
    ("profiles/(?P<name>[^/]+)", ProfileHandler),
    ("clusters", ClustersHandler),
    (f"clusters/{_ID}", ClusterHandler),
    (f"clusters/{_ID}/snippet", SnippetHandler),
    (f"clusters/{_ID}/jobs/(?P<job_id>[^/]+)/log", JobLogHandler),
    ("preview", PreviewHandler),
    ("events", ClusterEventsHandler),
]
