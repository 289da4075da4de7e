#!/bin/bash
# Stop the gateway started by testbeds/start-gateway.sh (it stops its clusters first), by its pid.
# Safe to run when nothing is running.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DCL_GATEWAY_DIR:-/tmp/dask-cluster-launcher-gateway}
PY=${DCL_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
exec "$PY" -m tests.gateway_testbed stop "$DIR"
