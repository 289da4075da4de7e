"""A cluster host's scheduler imports its dashboard (bokeh, 17 MB per host) on the first request
for it, and then serves it as before (``hosting.lazy_dashboard``); a first question for the list
of its panes (dask-labextension's) lists them all.

In a process of its own: the stand-in module must not reach the test process's schedulers.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from dask_cluster_launcher.hosting.start import trim_scheduler
    from distributed import Scheduler
    from tornado.httpclient import AsyncHTTPClient

    async def main():
        trim_scheduler()
        async with Scheduler(dashboard_address="127.0.0.1:0", host="127.0.0.1") as s:
            print("bokeh before", "bokeh" in sys.modules)
            url = f"http://127.0.0.1:{s.http_server.port}/"
            # dask-labextension's first question: which panes are there?
            plots = json.loads((await AsyncHTTPClient().fetch(url + "individual-plots.json")).body)
            print("panes", "Individual Task Stream" in plots)
            page = await AsyncHTTPClient().fetch(url, follow_redirects=False, raise_error=False)
            print("root", page.code, page.headers.get("Location"))
            page = await AsyncHTTPClient().fetch(url + "status")
            print("status", page.code, b"Dask" in page.body)
            print("bokeh after", "bokeh" in sys.modules)

    asyncio.run(main())
    """
)


def test_the_dashboard_is_imported_when_first_asked_for_and_then_served():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:5] == [
        "bokeh before False",
        "panes True",
        "root 301 /status",
        "status 200 True",
        "bokeh after True",
    ]
