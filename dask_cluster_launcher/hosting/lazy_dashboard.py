"""The scheduler's dashboard (bokeh) imported when it is first asked for, not when the scheduler
starts.

A host process holds one idle cluster for hours on a login node shared by many users; bokeh
and the dashboard's components are 17 MB of its memory (PSS) and most clusters' dashboards are
never opened. distributed's ``Scheduler.__init__`` runs ``import distributed.dashboard.scheduler``
and calls its ``connect(application, http_server, scheduler, prefix)``. :func:`defer_dashboard`
puts a small module under that name first, whose ``connect`` adds a :class:`LazyDashboard` to the
scheduler's HTTP application. The first request that no other route answers (``/status``,
``/``) imports the real module and connects the real dashboard, which answers that request and
every later one; the first open of a dashboard takes the import (about a second here) longer.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from tornado import web

MODULE = "distributed.dashboard.scheduler"


#: Routes of distributed's own that list the dashboard's pages (dask-labextension asks
#: ``individual-plots.json`` for its panes): answered before any other application is asked, so
#: the real dashboard is connected first, or they would list none.
LISTINGS = ("individual-plots.json", "sitemap.json")


class LazyDashboard(web.Application):
    """A member of the scheduler's ``RoutingApplication.applications`` that answers nothing
    itself: asked for a handler first time, it connects the real dashboard, which
    ``RoutingApplication.find_handler`` asks next (it is appended to the same list)."""

    def __init__(self, routing: Any, http_server: Any, scheduler: Any, prefix: str) -> None:
        super().__init__()
        self._connect_args: tuple[Any, ...] | None = (routing, http_server, scheduler, prefix)

    def connect_now(self) -> None:
        if self._connect_args is not None:
            args, self._connect_args = self._connect_args, None
            real_dashboard().connect(*args)

    def find_handler(self, request: Any, **kwargs: Any) -> Any:
        self.connect_now()
        return None


def real_dashboard() -> types.ModuleType:
    """distributed's own ``distributed.dashboard.scheduler`` (imported now if it was not)."""
    module = sys.modules.get(MODULE)
    if module is not None and getattr(module, "_lazy", False):
        del sys.modules[MODULE]
    return importlib.import_module(MODULE)


def _connect(application: Any, http_server: Any, scheduler: Any, prefix: str = "") -> None:
    lazy = LazyDashboard(application, http_server, scheduler, prefix)
    application.add_application(lazy)
    find_handler = application.find_handler

    def connecting_for_listings(request: Any, **kwargs: Any) -> Any:
        if request.path.rstrip("/").endswith(LISTINGS):
            lazy.connect_now()
        return find_handler(request, **kwargs)

    application.find_handler = connecting_for_listings


def defer_dashboard() -> None:
    """Schedulers started from now on in this process import their dashboard on its first
    request (nothing changes when it was imported already)."""
    if MODULE in sys.modules:
        return
    import distributed.dashboard as package

    stand_in = types.ModuleType(MODULE, __doc__)
    stand_in._lazy = True  # type: ignore[attr-defined]
    stand_in.connect = _connect  # type: ignore[attr-defined]
    sys.modules[MODULE] = stand_in
    package.scheduler = stand_in
