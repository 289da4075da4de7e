#!/bin/bash
# The HTCondor test bed: the command-line emulator of
# dask_cluster_launcher/testing/htcondor_emulator.py (condor_submit, condor_q, condor_rm,
# condor_status, and condor_history from htcondor_emulator_history.py, following the HTCondor
# manual; jobs really run on this host as their user).
# No HTCondor pool can be installed here: see README "Test beds".
#
# usage: testbeds/start-htcondor.sh [DIR]   (default /var/lib/dcl-htcondor-emulator)
#   Idempotent: the commands and the pool (one partitionable slot with 16 CPUs) are rewritten,
#   queued jobs are kept.
# Prints, as its last line, the directory to put first on PATH. The commands find the pool
# through CONDOR_CONFIG (DIR/condor_config), which they set themselves when it is unset.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-/var/lib/dcl-htcondor-emulator}
PYTHON=${PYTHON:-$HERE/../.venv/bin/python}
BIN=$("$PYTHON" -m dask_cluster_launcher.testing.htcondor_emulator install "$DIR")
# condor_history: the ended jobs, for why each ended and what it used
"$PYTHON" -m dask_cluster_launcher.testing.htcondor_emulator_history install "$DIR" >/dev/null
PATH=$BIN:$PATH condor_status >/dev/null
echo "$BIN"
