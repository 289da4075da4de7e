#!/bin/bash
# Start a single-node SLURM 22.05 "cluster" on this host without systemd (munged, slurmctld, slurmd,
# and slurmdbd with MariaDB for accounting: testbeds/start-slurmdbd.sh).
# Requires testbeds/install.sh (Debian 12 packages slurm-wlm munge slurmdbd mariadb-server).
#
# usage: testbeds/start-slurm.sh [--restart]
#   Idempotent: when the daemons already run with the same slurm.conf and the node is usable it
#   does nothing (queued/running jobs survive). If only reconfigurable settings changed
#   (partitions, DefMemPerCPU, timers, log levels) it applies them with `scontrol reconfigure`
#   (jobs survive). Any other change, or --restart, stops everything (jobs included) and starts
#   from a clean state (job ids start again at 1).
#
# Partitions:  debug (default, MaxTime=INFINITE)   short (MaxTime=00:30:00)
# Env knobs:   SLURM_FAKE_CPUS   CPUs advertised on the node (default 16 -> 16 one-core jobs at once)
#              SLURM_REAL_MEM_MB RealMemory advertised (default 16000)
set -euo pipefail
RESTART=0
[ "${1:-}" = --restart ] && RESTART=1
NODE=$(hostname -s)
CPUS=${SLURM_FAKE_CPUS:-16}
MEM=${SLURM_REAL_MEM_MB:-16000}
BASE=/var/lib/slurm-local            # state/spool/logs/pids
CONF=/etc/slurm/slurm.conf           # Debian build default (clients read it too)

for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch; do
  [ -x "$b" ] || { echo "start-slurm.sh: $b missing, run testbeds/install.sh first" >&2; exit 2; }
done

alive() { local pid; pid=$(cat "$1" 2>/dev/null || true); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
stop_pidfile() {  # kill the daemon recorded in a pidfile (never by name), wait for it to exit
  local f=$1 pid
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"; for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$f"
}
node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1 || true; }

# ---- (a) munge -------------------------------------------------------------
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
chown munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/log/munge; chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  stop_pidfile /run/munge/munged.pid
  rm -f /run/munge/munge.socket.2*
  runuser -u munge -- /usr/sbin/munged
  for i in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null   # fails the script if munge is not working

# ---- (b) slurm.conf --------------------------------------------------------
NEWCONF=$(mktemp)
trap 'rm -f "$NEWCONF"' EXIT
cat > "$NEWCONF" <<CONF
# Written by testbeds/start-slurm.sh (dask-cluster-launcher test bed). Do not edit by hand.
ClusterName=localcluster
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Trust the CPUs/RealMemory written below instead of the hardware (oversubscription).
SlurmdParameters=config_overrides
ReturnToService=2
# Accounting through slurmdbd (testbeds/start-slurmdbd.sh), so that sacct answers as on a site.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
# No cgroups in a container: the jobacct_gather plugin samples each job's memory every 2 s and
# kills a job past its --mem (OUT_OF_MEMORY), as a site's cgroup limit would.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=2
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/none
StateSaveLocation=${BASE}/state
SlurmdSpoolDir=${BASE}/spool
SlurmctldPidFile=${BASE}/slurmctld.pid
SlurmdPidFile=${BASE}/slurmd.pid
SlurmctldLogFile=${BASE}/log/slurmctld.log
SlurmdLogFile=${BASE}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Make cancelled/finished jobs disappear quickly.
KillWait=5
MinJobAge=5
InactiveLimit=0
Waittime=0
# A job without --mem would otherwise get the whole node's memory and block every other job.
DefMemPerCPU=500
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
PartitionName=short Nodes=ALL Default=NO MaxTime=00:30:00 State=UP OverSubscribe=NO
CONF

# ---- (b2) accounting: MariaDB + slurmdbd, the cluster registered (fast when they run) ----
SLURM_CONF=$NEWCONF bash "$(dirname "$0")/start-slurmdbd.sh"

# ---- already running? then keep the daemons (and their jobs) ------------------
usable() { case "$(node_state)" in idle|mixed|allocated|completing) return 0 ;; esac; return 1; }
# settings that `scontrol reconfigure` applies to running daemons
RECONF_RE='^(#|PartitionName=|DefMemPerCPU=|KillWait=|MinJobAge=|InactiveLimit=|Waittime=|SlurmctldDebug=|SlurmdDebug=)'
if [ $RESTART = 0 ] && alive $BASE/slurmctld.pid && alive $BASE/slurmd.pid && usable; then
  if cmp -s "$NEWCONF" "$CONF"; then
    echo "SLURM already running (node $NODE: $(node_state))"; exit 0
  fi
  if [ -f "$CONF" ] && cmp -s <(grep -Ev "$RECONF_RE" "$NEWCONF") <(grep -Ev "$RECONF_RE" "$CONF"); then
    cp "$NEWCONF" "$CONF"; chmod 0644 "$CONF"
    if scontrol reconfigure; then
      for i in $(seq 40); do usable && break; sleep 0.25; done
      if usable && [ "$(sinfo -h -o %R | sort | tr '\n' ' ')" = "debug short " ]; then
        sinfo; echo "SLURM reconfigured in place (jobs kept)"; exit 0
      fi
    fi
    echo "scontrol reconfigure did not work, restarting"
  fi
fi

# ---- (c) clean restart -------------------------------------------------------
# Kill leftovers of a previous run (by pidfile only), then start from a clean state.
for p in slurmd slurmctld; do stop_pidfile $BASE/$p.pid; done
rm -rf $BASE; mkdir -p $BASE/state $BASE/spool $BASE/log /etc/slurm
cp "$NEWCONF" "$CONF"; chmod 0644 "$CONF"

/usr/sbin/slurmctld -i        # classic daemon mode, pidfiles under $BASE
/usr/sbin/slurmd -N "$NODE"

# ---- (d) wait for idle node ------------------------------------------------
st=
for i in $(seq 120); do
  st=$(node_state)
  [ "$st" = idle ] && break
  sleep 0.25
done
sinfo
[ "$st" = idle ] || { echo "node not idle (state: $st)"; tail -20 $BASE/log/*.log; exit 1; }
echo "SLURM ready (partitions: debug, short)"
