#!/bin/bash
# The LSF test bed: the command-line emulator of dask_cluster_launcher/testing/lsf_emulator.py
# (bsub, bjobs, bkill, bqueues, bhosts following IBM Spectrum LSF 10.1; jobs really run on this
# host as their user). No LSF daemon can be installed here: see README "Test beds".
#
# usage: testbeds/start-lsf.sh [DIR]   (default /var/lib/dcl-lsf-emulator)
#   Idempotent: the commands and the site (queues normal, the default, and short with a 30 min
#   run limit; one host with 16 slots) are rewritten, queued jobs are kept.
# Prints, as its last line, the directory to put first on PATH. The commands find their site
# through LSF_ENVDIR (DIR/conf), which they set themselves when it is unset.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-/var/lib/dcl-lsf-emulator}
PYTHON=${PYTHON:-$HERE/../.venv/bin/python}
BIN=$("$PYTHON" -m dask_cluster_launcher.testing.lsf_emulator install "$DIR")
PATH=$BIN:$PATH bqueues >/dev/null
echo "$BIN"
