#!/bin/bash
# Install every Debian package the test suite needs (Debian 12), non-interactively and idempotently.
#   SLURM 22.05 single node:  slurm-wlm munge          (slurmctld, slurmd, slurm-client)
#   SLURM accounting:         slurmdbd mariadb-server  (sacct; testbeds/start-slurmdbd.sh)
#   Son of Grid Engine 8.1.9: gridengine-master gridengine-exec gridengine-client
#   PBS/Torque wrappers:      libslurm-perl libslurmdb-perl libswitch-perl (what the
#                             slurm-wlm-torque wrappers need; testbeds/start-pbs.sh unpacks the
#                             wrappers themselves, which conflict with gridengine-client)
#   mpi backend tests:        openmpi-bin libopenmpi-dev (Open MPI; mpi4py loads its libmpi)
#   Browser tests:            chromium                 (/usr/bin/chromium)
#   Isolation tests:          the users dcl-victim (runs a Jupyter server, not root) and
#                             dcl-other (a second user of the machine, the attacker);
#                             gcc (the attack tests' compiled race watcher)
# Returns immediately (no apt-get at all) when everything is already installed.
# Must run as root. Usage: testbeds/install.sh
set -euo pipefail

PACKAGES=(slurm-wlm munge slurmctld slurmd slurm-client slurmdbd mariadb-server
          gridengine-master gridengine-exec gridengine-client
          libslurm-perl libslurmdb-perl libswitch-perl
          chromium
          openmpi-bin libopenmpi-dev
          gcc libc6-dev)

# Two unprivileged users: tests/test_isolation.py and the attack tests run a Jupyter server as
# dcl-victim (root would bypass the kernel's permission checks) and attack it as dcl-other.
for user in dcl-victim dcl-other; do
  if ! id -u "$user" >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "testbeds/install.sh: must run as root (useradd $user)" >&2
      exit 1
    fi
    useradd --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$user"
    echo "testbeds/install.sh: created user $user"
  fi
done

# one dpkg-query call for all packages (fast path < 0.1 s)
installed=" $(dpkg-query -W -f='${Package}=${db:Status-Status} ' "${PACKAGES[@]}" 2>/dev/null || true)"
missing=()
for p in "${PACKAGES[@]}"; do
  case "$installed" in *" $p=installed "*) ;; *) missing+=("$p") ;; esac
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "testbeds/install.sh: all packages already installed"
  exit 0
fi
echo "testbeds/install.sh: installing ${missing[*]}"

if [ "$(id -u)" -ne 0 ]; then
  echo "testbeds/install.sh: must run as root (apt-get install)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# gridengine-common asks for these in its postinst; preseed so the install does not prompt.
HOST=$(hostname)
# Another apt/dpkg run (e.g. a parallel job installing chromium) holds the debconf and dpkg locks
# while it runs: wait for them instead of failing (up to LOCK_WAIT seconds, default 900).
LOCK_WAIT=${LOCK_WAIT:-900}
preseed() {
  debconf-set-selections <<SEL
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string $HOST
SEL
}
for i in $(seq "$LOCK_WAIT"); do
  preseed 2>/dev/null && break
  [ "$i" = 1 ] && echo "testbeds/install.sh: debconf is locked by another apt/dpkg run, waiting..."
  sleep 1
done
preseed   # last try, shows the error if it still fails

apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" update -q
apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"

# The Debian packages try to start daemons via invoke-rc.d; without systemd they do not run
# (or run unconfigured). The start-*.sh scripts own the daemons, nothing to do here.
echo "testbeds/install.sh: done"
