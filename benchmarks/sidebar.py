"""Sidebar update time with a large cluster: a real JupyterLab in headless Chromium shows a local
cluster of many thread workers, expanded, while it is scaled; ``benchmarks/sidebar.mjs`` reads
the sidebar's own ``dcl:sidebar-update`` measures (event arrival -> React commit) and a
baseline of whole-cluster events in the same page.

    python benchmarks/sidebar.py [--workers 128] [--low 120] [--cycles 5] [--screenshot FILE]
                                 [--form]

Needs Node.js, ``ui-tests/node_modules`` (``jlpm install`` in ui-tests), ``/usr/bin/chromium``
and the built labextension (``jlpm build``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.observe import cluster_event, running_workers
from benchmarks.servers import JupyterServer

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=128, help="the cluster's size")
    parser.add_argument("--low", type=int, default=120, help="the size it is scaled down to")
    parser.add_argument("--cycles", type=int, default=5, help="scale down and up this often")
    parser.add_argument("--screenshot", default="", help="a PNG of the sidebar after scaling")
    parser.add_argument(
        "--form", action="store_true", help="with the launch form open below the card"
    )
    return parser.parse_args(argv)


def lab_server() -> JupyterServer:
    """A server with JupyterLab and the launcher, the app exposed to the page (``window.
    jupyterapp``, as Galata's test server does) and private settings, workspaces and clusters."""
    server = JupyterServer({"dask_cluster_launcher": True, "jupyterlab": True})
    config_dir = server.workdir / "config"
    config_dir.mkdir()
    # jupyter_config.json: read by every Jupyter app next to the --config file servers.py gives
    (config_dir / "jupyter_config.json").write_text(
        json.dumps(
            {
                "LabApp": {
                    "expose_app_in_browser": True,
                    "news_url": None,
                    "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                },
                "ClusterLauncherApp": {"private_dir": str(server.workdir / "private")},
            }
        )
    )
    server.extra_env = {
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(server.workdir / "data"),
        "JUPYTERLAB_SETTINGS_DIR": str(server.workdir / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(server.workdir / "workspaces"),
    }
    return server


async def main(args: argparse.Namespace) -> int:
    server = lab_server()
    print(
        f"  jupyter server (JupyterLab + launcher) up in {await server.start():.1f} s", flush=True
    )
    stream = await server.events()
    cluster_id = None
    try:
        since = stream.mark()
        body = {
            "backend": "local",
            "options": {"threads_per_worker": 1, "processes": False},
            "scaling": {"workers": args.workers},
        }
        code, model = await server.request("POST", "dask-cluster-launcher/clusters", body)
        if code != 202:
            raise RuntimeError(f"POST clusters answered {code}: {model}")
        cluster_id = model["id"]
        await stream.wait_for(
            cluster_event(cluster_id, lambda m: running_workers(m) == args.workers),
            since,
            timeout=180,
        )
        print(f"  local cluster of {args.workers} thread workers running", flush=True)
        command = [
            "node",
            str(HERE / "sidebar.mjs"),
            *("--url", server.url, "--token", server.token, "--cluster", cluster_id),
            *("--high", str(args.workers), "--low", str(args.low), "--cycles", str(args.cycles)),
        ]
        if args.screenshot:
            command += ["--screenshot", args.screenshot]
        if args.form:
            command += ["--form", "1"]
        # The browser runs in a thread so that this loop keeps reading the events WebSocket.
        done = await asyncio.to_thread(subprocess.run, command, env=dict(os.environ))
        return done.returncode
    finally:
        stream.close()
        if cluster_id:
            await server.request("DELETE", f"dask-cluster-launcher/clusters/{cluster_id}")
        await server.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
