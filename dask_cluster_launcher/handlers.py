"""HTTP handlers: parse, validate the envelope, call the manager, map errors. Nothing more."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from . import schemas
from .errors import InvalidRequest, LauncherError
from .manager import ClusterManager


class LauncherHandler(APIHandler):
    """Base handler: JSON bodies, and LauncherError -> 400/404/409 with ``{message, field}``."""

    @property
    def manager(self) -> ClusterManager:
        return self.settings["dask_cluster_launcher_manager"]

    def json_body(self, component: str) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            raise InvalidRequest("body: is not valid JSON", field="body") from None
        if not isinstance(body, dict):
            raise InvalidRequest("body: must be a JSON object", field="body")
        schemas.check_request(body, component)
        return body

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

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, LauncherError):
            self.log.info("%s %s: %s", self.request.method, self.request.path, value.message)
        else:
            super().log_exception(typ, value, tb)


class BackendsHandler(LauncherHandler):
    @web.authenticated
    async def get(self) -> None:
        self.finish(json.dumps(await self.manager.describe_backends()))


class ProfilesHandler(LauncherHandler):
    @web.authenticated
    async def get(self) -> None:
        self.finish(json.dumps(self.manager.profiles.models()))

    @web.authenticated
    async def post(self) -> None:
        profile = self.manager.profiles.save(self.json_body("ProfileRequest"))
        self.set_status(201)
        self.finish(json.dumps(profile.to_model()))


class ProfileHandler(LauncherHandler):
    @web.authenticated
    async def put(self, name: str) -> None:
        profile = self.manager.profiles.save(self.json_body("ProfileRequest"), replace=name)
        self.finish(json.dumps(profile.to_model()))

    @web.authenticated
    async def delete(self, name: str) -> None:
        self.manager.profiles.delete(name)
        self.set_status(204)
        self.finish()


class ClustersHandler(LauncherHandler):
    @web.authenticated
    async def get(self) -> None:
        self.finish(json.dumps([self.manager.model(c) for c in self.manager.list()]))

    @web.authenticated
    async def post(self) -> None:
        launched = await self.manager.launch(self.json_body("LaunchRequest"))
        self.set_status(202)
        self.finish(json.dumps(self.manager.model(launched)))


class ClusterHandler(LauncherHandler):
    @web.authenticated
    async def get(self, cluster_id: str) -> None:
        self.finish(json.dumps(self.manager.model(self.manager.get(cluster_id))))

    @web.authenticated
    async def patch(self, cluster_id: str) -> None:
        self.manager.get(cluster_id)  # 404 before 400 for unknown clusters
        launched = await self.manager.rescale(cluster_id, self.json_body("Scaling"))
        self.finish(json.dumps(self.manager.model(launched)))

    @web.authenticated
    async def delete(self, cluster_id: str) -> None:
        await self.manager.stop(cluster_id)
        self.set_status(204)
        self.finish()


class SnippetHandler(LauncherHandler):
    @web.authenticated
    async def get(self, cluster_id: str) -> None:
        self.finish(json.dumps({"code": self.manager.snippet(cluster_id)}))


class JobLogHandler(LauncherHandler):
    @web.authenticated
    async def get(self, cluster_id: str, job_id: str) -> None:
        self.finish(json.dumps(await self.manager.job_log(cluster_id, job_id)))


class PreviewHandler(LauncherHandler):
    @web.authenticated
    async def post(self) -> None:
        self.finish(json.dumps(await self.manager.preview(self.json_body("PreviewRequest"))))


_ID = r"(?P<cluster_id>[^/]+)"
ROUTES: list[tuple[str, type[LauncherHandler]]] = [
    ("backends", BackendsHandler),
    ("profiles", ProfilesHandler),
    ("profiles/(?P<name>[^/]+)", ProfileHandler),
    ("clusters", ClustersHandler),
    (f"clusters/{_ID}", ClusterHandler),
    (f"clusters/{_ID}/snippet", SnippetHandler),
    (f"clusters/{_ID}/jobs/(?P<job_id>[^/]+)/log", JobLogHandler),
    ("preview", PreviewHandler),
]
