#!/bin/bash
# Stop the daemons started by testbeds/start-slurm.sh: cancel all jobs, then slurmd, slurmctld and
# munged by pidfile (never by name). Safe to run when nothing is running.
BASE=/var/lib/slurm-local
if [ -s $BASE/slurmctld.pid ] && kill -0 "$(cat $BASE/slurmctld.pid)" 2>/dev/null; then
  scancel --full --user=root 2>/dev/null || true
  for i in $(seq 50); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
fi
for f in $BASE/slurmd.pid $BASE/slurmctld.pid /run/munge/munged.pid; do
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$f"
done
echo "slurm stopped"
