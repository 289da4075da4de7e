#!/bin/bash
# Start a Dask Gateway (dask-gateway-server) on loopback for the UI tests, without systemd or root:
# its local backend (schedulers and workers are local processes), a password login, free ports,
# and the options worker_profile (Select: "Small Worker" / "Medium Worker") and worker_threads
# (Integer 1..2). tests/gateway_testbed.py does the work (the pytest suite starts its own).
#
# usage: testbeds/start-gateway.sh     Idempotent: a running, healthy gateway is left alone.
# Writes $DCL_GATEWAY_DIR/info.json (address, proxy_address, username, password, pid) for clients;
#   DCL_GATEWAY_DIR   default /tmp/dask-cluster-launcher-gateway
#   DCL_PYTHON        the Python with dask-gateway-server (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DCL_GATEWAY_DIR:-/tmp/dask-cluster-launcher-gateway}
PY=${DCL_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
"$PY" -c "import dask_gateway_server, dask_gateway" 2>/dev/null || {
  echo "start-gateway.sh: $PY lacks dask-gateway-server: pip install -e '.[test]'" >&2; exit 2; }
exec "$PY" -m tests.gateway_testbed start "$DIR"
