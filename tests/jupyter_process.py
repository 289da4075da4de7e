"""A real ``jupyter server`` process with the extension, run as JupyterHub runs one.

stdin is not a terminal (JupyterHub's spawner gives it none) and config, data and runtime
directories are private to the test, so the server writes nothing where other tests look.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.api_schema import check_response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterServerProcess:
    """``with JupyterServerProcess(tmp_path) as server: server.call("clusters")``."""

    def __init__(
        self,
        root: Path,
        token: str = "test-token",
        start_timeout: float = 60,
        env: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        """``user``: run the server as this Unix user (``root`` must own ``root``'s tree then;
        it is handed to the user, and ``env`` should give the user's ``HOME``). ``cwd``: start
        it in this folder with the ``jupyter-server`` command, as a user does (the folder is
        then not on the server's own ``sys.path``, as ``python -m`` would put it)."""
        self.root = root
        self.port = free_port()
        self.token = token
        self.runtime_dir = root / "runtime"
        self.log_path = root / "server.log"
        for name in ("config", "data", "runtime", "notebooks"):
            (root / name).mkdir(parents=True, exist_ok=True)
        config = {
            "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
            **(config or {}),
        }
        (root / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(root / "config"),
            "JUPYTER_DATA_DIR": str(root / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            **(env or {}),
        }
        as_user: dict[str, Any] = {}
        if user is not None:
            from tests.users import as_user as user_arguments
            from tests.users import chown_tree, let_users_run_checkout

            let_users_run_checkout()
            self.log_path.touch()
            chown_tree(user, root)
            as_user = user_arguments(user)
            env.pop("XDG_RUNTIME_DIR", None)  # root's
        # The log goes to a file, not a pipe nobody reads (a full pipe would block the server).
        with open(self.log_path, "wb") as log:
            command = [sys.executable, "-m", "jupyter", "server"]
            if cwd is not None:
                command = [str(Path(sys.executable).with_name("jupyter-server"))]
            self.process = subprocess.Popen(
                [
                    *command,
                    "--no-browser",
                    "--allow-root",
                    "--ip=127.0.0.1",
                    f"--port={self.port}",
                    f"--IdentityProvider.token={token}",
                    f"--ServerApp.root_dir={root / 'notebooks'}",
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                **as_user,
            )
        self._wait_started(start_timeout)

    def _wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("clusters")
                return
            except (OSError, urllib.error.HTTPError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise AssertionError(f"jupyter server did not start:\n{self.log()}") from None
                time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(
        self,
        path: str,
        body: Any = None,
        method: str | None = None,
        prefix: str = "dask-cluster-launcher/",
        timeout: float = 10.0,
    ) -> Any:
        """A REST call to ``/<prefix><path>`` -> parsed JSON or None; the launcher's answers
        are checked against schema/openapi.yaml."""
        url = f"http://127.0.0.1:{self.port}/{prefix}{path}"
        method = method or ("POST" if body is not None else "GET")
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
            status = response.status
        parsed = json.loads(text) if text else None
        if prefix == "dask-cluster-launcher/":
            check_response(method, path, status, parsed)
        return parsed

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> JupyterServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
