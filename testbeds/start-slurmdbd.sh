#!/bin/bash
# SLURM accounting for the test bed, as on a site: MariaDB (Debian's mariadb-server) holding
# slurm_acct_db, slurmdbd in front of it, the cluster registered, so that sacct answers.
# Requires testbeds/install.sh (slurmdbd mariadb-server) and a working munge (start-slurm.sh
# starts munge, then this script, then slurmctld).
#
# usage: testbeds/start-slurmdbd.sh
#   Idempotent and fast when everything runs (one sacctmgr call): MariaDB and slurmdbd are
#   started only when they do not answer, the database, its user and the cluster only made
#   when missing. No systemd: mariadbd-safe and slurmdbd run as daemons of their own.
set -euo pipefail
CLUSTER=${SLURM_CLUSTER_NAME:-localcluster}
DBD_BASE=/var/lib/slurmdbd-local      # pid and log (not under start-slurm.sh's state folder,
                                      # which a clean restart removes)
DBD_CONF=/etc/slurm/slurmdbd.conf
SOCKET=/run/mysqld/mysqld.sock

for b in /usr/sbin/slurmdbd /usr/sbin/mariadbd /usr/bin/mariadbd-safe /usr/bin/sacctmgr; do
  [ -x "$b" ] || { echo "start-slurmdbd.sh: $b missing, run testbeds/install.sh first" >&2; exit 2; }
done

registered() { sacctmgr -n -P list cluster format=cluster 2>/dev/null | grep -qx "$CLUSTER"; }
has_account() { sacctmgr -n -P list assoc account=physics user=root format=user 2>/dev/null | grep -qx root; }
dbd_alive() { local pid; pid=$(cat $DBD_BASE/slurmdbd.pid 2>/dev/null || true); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

# fast path: slurmdbd answers and knows the cluster and its account
if dbd_alive && registered && has_account; then
  echo "slurmdbd already running (cluster $CLUSTER registered, account physics)"; exit 0
fi

# ---- (a) MariaDB, root by socket authentication ------------------------------------------------
db_up() { mariadb-admin --socket=$SOCKET ping >/dev/null 2>&1; }
if ! db_up; then
  mkdir -p /run/mysqld; chown mysql:root /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  # no TCP listener: slurmdbd reaches it through the socket (StorageHost=localhost)
  (cd / && exec setsid /usr/bin/mariadbd-safe --skip-networking >/dev/null 2>&1 < /dev/null) &
  for i in $(seq 100); do db_up && break; sleep 0.2; done
  db_up || { echo "start-slurmdbd.sh: MariaDB did not start" >&2; tail -20 /var/log/mysql/error.log 2>/dev/null; exit 1; }
fi

# ---- (b) slurmdbd.conf (0600, the slurm user's) with the database user's password ------------------
password=$(sed -n 's/^StoragePass=//p' "$DBD_CONF" 2>/dev/null || true)
[ -n "$password" ] || password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
mariadb --socket=$SOCKET <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$password';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$password';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL
mkdir -p $DBD_BASE /etc/slurm; chown slurm:slurm $DBD_BASE
NEWCONF=$(mktemp); trap 'rm -f "$NEWCONF"' EXIT
cat > "$NEWCONF" <<CONF
# Written by testbeds/start-slurmdbd.sh (dask-cluster-launcher test bed). Do not edit by hand.
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$password
PidFile=$DBD_BASE/slurmdbd.pid
LogFile=$DBD_BASE/slurmdbd.log
DebugLevel=info
CONF
if ! cmp -s "$NEWCONF" "$DBD_CONF"; then
  install -m 0600 -o slurm -g slurm "$NEWCONF" "$DBD_CONF"
  if dbd_alive; then kill "$(cat $DBD_BASE/slurmdbd.pid)"; sleep 1; fi
fi

# ---- (c) slurmdbd, then the cluster ------------------------------------------------------------------
if ! dbd_alive; then
  # slurmdbd looks for slurmdbd.conf beside $SLURM_CONF (start-slurm.sh points that at its
  # not-yet-installed slurm.conf in a temporary folder): name its own file's folder instead
  SLURM_CONF=/etc/slurm/slurm.conf /usr/sbin/slurmdbd   # daemonizes, drops to SlurmUser
fi
for i in $(seq 100); do sacctmgr -n -P list cluster >/dev/null 2>&1 && break; sleep 0.2; done
registered || sacctmgr -i add cluster "$CLUSTER" >/dev/null
registered || { echo "start-slurmdbd.sh: cluster $CLUSTER not registered" >&2; tail -20 $DBD_BASE/slurmdbd.log; exit 1; }
# a site's project account, as the tests' site profiles name it (root keeps its default account)
if ! has_account; then
  sacctmgr -i add account physics Description=physics Organization=physics >/dev/null 2>&1 || true
  sacctmgr -i add user root account=physics >/dev/null
fi
echo "slurmdbd ready (cluster $CLUSTER registered, account physics)"
