#!/bin/bash
# Stop the daemons started by testbeds/start-sge.sh: delete all jobs, then sge_execd and
# sge_qmaster by pidfile (never by name). Safe to run when nothing is running.
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
QM_PIDFILE=/var/spool/gridengine/qmaster/qmaster.pid
if [ -s $QM_PIDFILE ] && kill -0 "$(cat $QM_PIDFILE)" 2>/dev/null && qstat >/dev/null 2>&1; then
  qdel -f -u '*' >/dev/null 2>&1 || true
  for i in $(seq 100); do [ -z "$(qstat -u '*' 2>/dev/null)" ] && break; sleep 0.2; done
fi
for f in /var/spool/gridengine/execd/*/execd.pid $QM_PIDFILE; do
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$f"
done
echo "sge stopped"
