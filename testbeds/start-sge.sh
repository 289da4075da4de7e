#!/bin/bash
# Start a single-host Son of Grid Engine 8.1.9 cell (sge_qmaster + sge_execd on this host) without
# systemd. Requires testbeds/install.sh (Debian 12 gridengine-master/-exec/-client).
#
# usage: testbeds/start-sge.sh [--restart]
#   Idempotent: daemons that already run are kept (jobs survive) and the configuration below is
#   (re)applied. --restart deletes all jobs, stops both daemons and starts them again.
#
# Queues: all.q  (SGE_SLOTS slots, h_rt INFINITY, pe_list smp)
#         short.q (SGE_SLOTS slots, h_rt 0:30:0,  pe_list smp)
# PE:     smp (allocation_rule $pe_slots)
# Clients need: SGE_ROOT=/var/lib/gridengine SGE_CELL=default
# Env knobs: SGE_SLOTS (slots of each queue, default 16)
set -euo pipefail
RESTART=0
[ "${1:-}" = --restart ] && RESTART=1
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
HOST=$(hostname)
SLOTS=${SGE_SLOTS:-16}
COMMON=$SGE_ROOT/$SGE_CELL/common
QM_PIDFILE=/var/spool/gridengine/qmaster/qmaster.pid
HERE=$(cd "$(dirname "$0")" && pwd)

for b in /usr/sbin/sge_qmaster /usr/sbin/sge_execd /usr/bin/qconf /usr/bin/qsub; do
  [ -x "$b" ] || { echo "start-sge.sh: $b missing, run testbeds/install.sh first" >&2; exit 2; }
done
[ -d "$COMMON" ] || { echo "start-sge.sh: $COMMON missing (gridengine not configured), run testbeds/install.sh" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

alive() { local pid; pid=$(cat "$1" 2>/dev/null || true); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
stop_pidfile() {  # kill the daemon recorded in a pidfile (never by name), wait for it to exit
  local f=$1 pid
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$f"
}
execd_alive() { local f; for f in /var/spool/gridengine/execd/*/execd.pid; do alive "$f" && return 0; done; return 1; }

if [ $RESTART = 1 ]; then
  "$HERE/stop-sge.sh"
fi

# --- name resolution: in containers `hostname` often maps to 127.0.0.1 whose reverse lookup is
# "localhost"; SGE then rejects clients ("access denied ... client IP resolved to host name
# localhost. This is not identical to clients host name <host>"). host_aliases makes SGE treat
# "localhost" as the same host. Must be in place before sge_qmaster starts.
echo "$HOST localhost" > $COMMON/host_aliases
echo "$HOST" > $COMMON/act_qmaster
mkdir -p /var/run/gridengine; chown sgeadmin:sgeadmin /var/run/gridengine

# --- qmaster -----------------------------------------------------------------
if ! { alive $QM_PIDFILE && qconf -sh >/dev/null 2>&1; }; then
  # not running or not answering: kill leftovers (by pidfile) and start it
  for f in /var/spool/gridengine/execd/*/execd.pid $QM_PIDFILE; do stop_pidfile "$f"; done
  /usr/sbin/sge_qmaster
  for i in $(seq 150); do qconf -sh >/dev/null 2>&1 && break; sleep 0.1; done
  qconf -sh >/dev/null
fi

# Global config: root must be allowed to run jobs (default min_uid/min_gid 100 -> root's jobs
# go to Eqw), faster load reports so the exec host becomes usable quickly, and the accounting
# file written every second instead of every 15 s (reporting_params flush_time, as a site may
# set it; the launcher waits for the default 15 s too: SGEBackend.accounting_delay).
# Must be in place before sge_execd starts. `qconf -Mconf` wants a file named after the config.
qconf -sconf global > $WORK/global
sed -e 's/^min_uid .*/min_uid                      0/' -e 's/^min_gid .*/min_gid                      0/' \
    -e 's/^load_report_time .*/load_report_time             00:00:05/' \
    -e 's/flush_time=00:00:15/flush_time=00:00:01/' $WORK/global > $WORK/global.new
if ! cmp -s $WORK/global $WORK/global.new; then
  mv $WORK/global.new $WORK/global
  (cd $WORK && qconf -Mconf global >/dev/null)
fi
# Scheduler: run every second instead of every 15 s, no load adjustments, and keep the
# per-job scheduling info so `qstat -j ID` shows why a job is still pending.
qconf -ssconf > $WORK/sched
sed -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
    -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
    -e 's/^flush_finish_sec .*/flush_finish_sec                  1/' \
    -e 's/^job_load_adjustments .*/job_load_adjustments              NONE/' \
    -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time        0:0:0/' \
    -e 's/^schedd_job_info .*/schedd_job_info                   true/' $WORK/sched > $WORK/sched.new
cmp -s $WORK/sched $WORK/sched.new || qconf -Msconf $WORK/sched.new >/dev/null
qconf -ah "$HOST" >/dev/null 2>&1 || true     # admin host (the postinst already adds it)
qconf -as "$HOST" >/dev/null 2>&1 || true     # submit host

# --- execd (registers itself as exec host since it is an admin host) ----------
if ! execd_alive; then
  for f in /var/spool/gridengine/execd/*/execd.pid; do stop_pidfile "$f"; done
  /usr/sbin/sge_execd
  for i in $(seq 150); do qconf -se "$HOST" >/dev/null 2>&1 && break; sleep 0.1; done
fi

# --- host group, parallel environment smp, queues all.q and short.q -------------------
add_or_modify() {  # add_or_modify KIND NAME FILE   (KIND: hgrp | q | p)
  local kind=$1 name=$2 file=$3
  if qconf -s$kind "$name" >/dev/null 2>&1; then qconf -M$kind "$file" >/dev/null
  else qconf -A$kind "$file" >/dev/null; fi
}
printf 'group_name @allhosts\nhostlist %s\n' "$HOST" > $WORK/allhosts
add_or_modify hgrp @allhosts $WORK/allhosts

cat > $WORK/smp <<PE
pe_name            smp
slots              9999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
PE
add_or_modify p smp $WORK/smp

write_queue() {  # write_queue NAME H_RT SEQ_NO
  cat > $WORK/$1 <<Q
qname                 $1
hostlist              @allhosts
seq_no                $3
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               smp
rerun                 FALSE
slots                 ${SLOTS}
tmpdir                /tmp
shell                 /bin/bash
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  $2
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
Q
  add_or_modify q "$1" $WORK/$1
}
write_queue all.q INFINITY 0
write_queue short.q 0:30:0 10
for q in all.q short.q; do qmod -c "$q@$HOST" >/dev/null 2>&1 || true; done   # clear error states

# --- wait until both queue instances are usable (execd reported, no 'u'/'E' state) ------
ready() {
  local q line st
  for q in all.q short.q; do
    line=$(qstat -f -q $q 2>/dev/null | grep "^$q@" || true)
    st=$(echo "$line" | awk '{print $6}')
    [ -n "$line" ] && [ -z "$st" ] || return 1
  done
}
for i in $(seq 300); do ready && break; sleep 0.2; done
qstat -f
ready || { echo "SGE queues not ready"; exit 1; }
echo "SGE ready (SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL; queues all.q short.q; pe smp)"
