"""Server configuration for integration tests.

!! Never use this configuration in production because it
opens the server to the world and provides access to JupyterLab
JavaScript objects through the global window variable.

One server serves every spec file, so it is made ready for every backend here:

- local: nothing to do;
- SLURM / SGE: the local test beds (``testbeds/start-slurm.sh``, ``testbeds/start-sge.sh``; ``make
  test`` starts them before the UI tests) must be running; SGE clients get their environment;
- Dask Gateway: the loopback gateway of ``testbeds/start-gateway.sh`` (``make test`` starts it;
  started here when it does not run), configured as a hub does: ``DASK_GATEWAY__*`` for the
  kernels, the same values as server settings for the extension; the specs read its
  ``info.json`` (``$DCL_GATEWAY_DIR``, default ``/tmp/dask-cluster-launcher-gateway``);
- Saturn: a :class:`SaturnEmulator` (real Dask behind a local copy of Saturn's API) runs in a
  background thread of this process, and ``SATURN_*`` point the extension at it. It is stopped at
  exit, which also closes every Dask cluster it started. Its URL and token are written to
  ``$DCL_UI_SATURN_INFO`` (default ``<tmp>/dcl-ui-tests-saturn.json``; playwright.config.js
  gives each fresh server its own file) for the specs.
"""

import atexit
import json
import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

# Uncomment to set server log level to debug level
# c.ServerApp.log_level = "DEBUG"
c.LabApp.news_url = None  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821

# --- Grid Engine: where the client commands find the cell (test bed values) -------------------
os.environ.setdefault("SGE_ROOT", "/var/lib/gridengine")
os.environ.setdefault("SGE_CELL", "default")
# --- PBS: the Torque wrappers of testbeds/start-pbs.sh, found before Grid Engine's qsub ----------
os.environ.setdefault("DCL_PBS_PATH", "/opt/dcl-pbs/bin")

# --- Dask Gateway: the test bed's gateway (idempotent start) ----------------------------------
import subprocess  # noqa: E402
import sys  # noqa: E402

_here = os.path.dirname(os.path.abspath(__file__))
_gateway_dir = os.environ.setdefault("DCL_GATEWAY_DIR", "/tmp/dask-cluster-launcher-gateway")
subprocess.run(
    ["bash", os.path.join(_here, "..", "testbeds", "start-gateway.sh")],
    env={**os.environ, "DCL_PYTHON": sys.executable},
    check=True,
)
with open(os.path.join(_gateway_dir, "info.json"), encoding="utf-8") as f:
    _gateway = json.load(f)
os.environ.update(
    DASK_GATEWAY__ADDRESS=_gateway["address"],
    DASK_GATEWAY__PROXY_ADDRESS=_gateway["proxy_address"],
    DASK_GATEWAY__AUTH__TYPE="basic",
    DASK_GATEWAY__AUTH__KWARGS__USERNAME=_gateway["username"],
    DASK_GATEWAY__AUTH__KWARGS__PASSWORD=_gateway["password"],
)
c.ClusterLauncherApp.gateway_address = _gateway["address"]  # noqa: F821
c.ClusterLauncherApp.gateway_proxy_address = _gateway["proxy_address"]  # noqa: F821
c.ClusterLauncherApp.gateway_auth = "basic"  # noqa: F821
c.ClusterLauncherApp.gateway_auth_kwargs = {  # noqa: F821
    "username": _gateway["username"],
    "password": _gateway["password"],
}

# --- Saturn: a local emulator, started before the server extension loads -----------------------
# The config file is executed before any server extension is imported, and dask_saturn reads
# SATURN_* at each call, so setting them here is enough. Internal mode = plain tcp:// scheduler.
from dask_cluster_launcher.testing.saturn_emulator import SaturnEmulator  # noqa: E402

_saturn = SaturnEmulator(token="ui-test-token").start()
atexit.register(_saturn.stop)
os.environ["SATURN_BASE_URL"] = _saturn.url
os.environ["SATURN_TOKEN"] = _saturn.token
os.environ.setdefault("SATURN_IS_INTERNAL", "true")
# The specs read the emulator's address from here to check what Saturn really runs.
_info = os.environ.get(
    "DCL_UI_SATURN_INFO", os.path.join(tempfile.gettempdir(), "dcl-ui-tests-saturn.json")
)
with open(_info, "w", encoding="utf-8") as f:
    json.dump({"url": _saturn.url, "token": _saturn.token}, f)
atexit.register(lambda: os.path.exists(_info) and os.remove(_info))
print(f"[ui-tests] Saturn emulator on {_saturn.url} (internal mode; {_info})", flush=True)
