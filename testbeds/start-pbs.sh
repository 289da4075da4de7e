#!/bin/bash
# A PBS/Torque command line over the SLURM test bed: Debian's slurm-wlm-torque wrappers (qsub,
# qstat, qdel, pbsnodes, ...) unpacked into a private prefix, never installed: the package
# conflicts with gridengine-client (both ship /usr/bin/qsub). Jobs run on the SLURM test bed
# (start it first: testbeds/start-slurm.sh); sbatch honours the scripts' #PBS directives.
# Needs the wrappers' Perl modules (libslurm-perl libslurmdb-perl libswitch-perl, installed by
# testbeds/install.sh) and, the first time, apt access for `apt-get download slurm-wlm-torque`.
#
# usage: testbeds/start-pbs.sh         idempotent; the LAST line printed is the directory to
#                                      put first on PATH (for the PBS backend only: it hides
#                                      Grid Engine's qsub/qstat/qdel/qselect)
# Env knobs: DCL_PBS_PREFIX  where the prefix goes (default /opt/dcl-pbs)
#
# What the prefix changes in the wrappers, each where PBS itself behaves so (and said in
# docs/batch-facts.md):
#  - qselect: the wrappers have none (and /usr/bin/qselect is Grid Engine's). A shim answers
#    `qselect [-N name] [-u user]` with the ids of the matching queued/running jobs, one a line,
#    as PBS's qselect does.
#  - qsub: `#PBS -o DIR/` and `#PBS -e DIR/` name a directory, where PBS writes
#    DIR/<job name>.o<sequence number> (.e for errors). The wrapper always passes its own
#    -o/-e (the script's name, in the current directory) and sbatch cannot write to a
#    directory: the shim passes DIR/<name>.o%j and DIR/<name>.e%j instead.
#  - qstat -f: prints `comment` for a waiting job (SLURM's pending reason; PBS Pro's scheduler
#    sets the comment the same way, e.g. "Not Running: Insufficient amount of resource") and
#    Torque's `Walltime.Remaining` (seconds) for a running one; qstat -Q -f prints a
#    partition's time limit as Torque's `resources_max.walltime`.
#  - qstat -f of a completed job (C: kept for SLURM's MinJobAge, as Torque keeps one for
#    keep_completed): Torque's exit_status (-11 walltime, -10 memory, 256 + a signal, else the
#    exit code), start_time, comp_time and resources_used.walltime, for why it ended.
set -euo pipefail
PREFIX=${DCL_PBS_PREFIX:-/opt/dcl-pbs}
VERSION_STAMP=5   # bump when the prefix's shims or patches change

for b in /usr/bin/sbatch /usr/bin/squeue /usr/bin/scancel; do
  [ -x "$b" ] || { echo "start-pbs.sh: $b missing, run testbeds/install.sh first" >&2; exit 2; }
done
perl -MSlurm -MSwitch -e 1 2>/dev/null \
  || { echo "start-pbs.sh: Perl modules Slurm/Switch missing, run testbeds/install.sh" >&2; exit 2; }
sinfo -h -o %P >/dev/null 2>&1 \
  || { echo "start-pbs.sh: SLURM does not answer, run testbeds/start-slurm.sh first" >&2; exit 2; }

if [ "$(cat "$PREFIX/.stamp" 2>/dev/null || true)" != "$VERSION_STAMP" ]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  (cd "$WORK" && apt-get download -q slurm-wlm-torque >/dev/null 2>&1) \
    || { echo "start-pbs.sh: apt-get download slurm-wlm-torque failed" >&2; exit 2; }
  dpkg-deb -x "$WORK"/slurm-wlm-torque_*.deb "$WORK/x"
  rm -rf "$PREFIX.new"
  mkdir -p "$PREFIX.new/torque" "$PREFIX.new/bin"
  cp -p "$WORK"/x/usr/bin/* "$PREFIX.new/torque/"
  # the wrappers run the SLURM commands found beside them
  for c in sbatch salloc srun scontrol scancel; do ln -s "/usr/bin/$c" "$PREFIX.new/torque/$c"; done

  # qstat -f: `comment` for a waiting job, Walltime.Remaining for a running one
  perl -0pi -e 's/(\tprintf\("\\tjob_state = %s\\n", \$job->\{.stateCode.\}\);\n)/$1\tprintf("\\tcomment = %s\\n", Slurm->job_reason_string(\$job->{"state_reason"}))\n\t\tif \$job->{"job_state"} == JOB_PENDING;\n\tprintf("\\tWalltime.Remaining = %d\\n", \$job->{"end_time"} - time)\n\t\tif \$job->{"job_state"} == JOB_RUNNING && \$job->{"end_time"} > time;\n/' \
    "$PREFIX.new/torque/qstat"
  # qstat -Q -f: a partition's MaxTime as Torque's resources_max.walltime
  perl -0pi -e 's/(\tprintf\("\\tqueue_type = Execution\\n"\);\n)/$1\tprintf("\\tresources_max.walltime = %s\\n", hhmmss(\$part->{"max_time"} * 60))\n\t\tif \$part->{"max_time"} != INFINITE;\n/' \
    "$PREFIX.new/torque/qstat"
  # qstat -f: a completed job (C, kept for SLURM's MinJobAge as Torque keeps one for
  # keep_completed) with Torque's exit_status, start_time, comp_time, resources_used.walltime;
  # out-of-memory and deadline ends count as completed (C) too
  perl -0pi -e 's/(\t\t\|\| \$base_state == JOB_FAILED\)    \{ return .C. \})/\t\t|| \$base_state == 10 || \$base_state == 11\n$1/' \
    "$PREFIX.new/torque/qstat"
  perl -0pi -e 's/(\tprintf\("\\tqueue = %s\\n", \$job->\{.partition.\}\);\n)/$1\tprint_job_end(\$job) if \$job->{"stateCode"} eq "C";\n/' \
    "$PREFIX.new/torque/qstat"
  cat > "$WORK/job_end.pl" <<'PERL'

# Torque's record of a completed job (Torque Administrator Guide, "Job exit status"): the exit
# status of the job script, 256 + the signal that killed it, or Torque's own code: -11
# JOB_EXEC_OVERLIMIT_WT (walltime), -10 JOB_EXEC_OVERLIMIT_MEM (memory). Only for a job that
# started: one deleted while it waited has none.
sub print_job_end
{
	my ($job) = @_;
	return unless $job->{'start_time'};
	my $base = $job->{'job_state'} & JOB_STATE_BASE;
	my $code = $job->{'exit_code'};
	my $status = $base == JOB_TIMEOUT ? -11 : $base == 11 ? -10
		: ($code & 0x7f) ? 256 + ($code & 0x7f) : ($code >> 8);
	printf("\texit_status = %d\n", $status);
	printf("\tstart_time = %d\n", $job->{'start_time'});
	printf("\tcomp_time = %d\n", $job->{'end_time'}) if $job->{'end_time'};
	printf("\tresources_used.walltime = %s\n", hhmmss($job->{'end_time'} - $job->{'start_time'}))
		if $job->{'end_time'} >= $job->{'start_time'};
}
PERL
  # before the POD after __END__
  JOB_END="$WORK/job_end.pl" perl -0pi -e \
    'BEGIN { local $/; open(my $f, "<", $ENV{JOB_END}) or die; $sub = <$f> } s/\n__END__\n/\n$sub\n__END__\n/' \
    "$PREFIX.new/torque/qstat"
  grep -q 'print_job_end(\$job) if' "$PREFIX.new/torque/qstat" \
    && grep -q 'base_state == 11' "$PREFIX.new/torque/qstat" \
    && grep -q '^sub print_job_end' "$PREFIX.new/torque/qstat" \
    || { echo "start-pbs.sh: could not patch qstat's completed jobs (wrapper changed?)" >&2; exit 2; }
  grep -q 'resources_max.walltime = ' "$PREFIX.new/torque/qstat" \
    || { echo "start-pbs.sh: could not patch qstat -Q (wrapper changed?)" >&2; exit 2; }
  grep -q 'comment = ' "$PREFIX.new/torque/qstat" \
    || { echo "start-pbs.sh: could not patch qstat (wrapper changed?)" >&2; exit 2; }

  for c in qstat qdel pbsnodes qalter qhold qrls qrerun; do
    ln -s "../torque/$c" "$PREFIX.new/bin/$c"
  done

  cat > "$PREFIX.new/bin/qsub" <<'SH'
#!/bin/bash
# qsub with PBS's meaning of `#PBS -o DIR/` / `#PBS -e DIR/`: DIR/<job name>.o<job number>
# (see testbeds/start-pbs.sh); everything else goes to the Torque wrapper unchanged.
here=$(dirname "$(readlink -f "$0")")
script=${!#}
extra=()
if [ $# -ge 1 ] && [ -f "$script" ]; then
  given=" $* "
  name=$(sed -n 's/^#PBS -N \([^ ]*\)$/\1/p' "$script" | tail -n 1)
  name=${name:-$(basename "$script")}
  for stream in o e; do
    dir=$(sed -n "s/^#PBS -$stream \\(.*\\/\\)\$/\\1/p" "$script" | tail -n 1)
    case "$given" in *" -$stream "*) continue ;; esac
    [ -n "$dir" ] && extra+=("-$stream" "$dir$name.$stream%j")
  done
fi
exec "$here/../torque/qsub" "${extra[@]}" "$@"
SH

  cat > "$PREFIX.new/bin/qselect" <<'SH'
#!/bin/bash
# qselect for the test bed (the Torque wrappers have none): `qselect [-N name] [-u user]` prints
# the ids of the matching queued, held and running jobs, one a line, as PBS's qselect does.
args=(-h -o %i -t PENDING,RUNNING,SUSPENDED,CONFIGURING)
while [ $# -gt 0 ]; do
  case "$1" in
    -N) args+=("--name=$2"); shift 2 ;;
    -u) args+=("--user=$2"); shift 2 ;;
    *) echo "qselect: option $1 is not supported by this test bed's shim" >&2; exit 2 ;;
  esac
done
exec squeue "${args[@]}"
SH
  chmod 0755 "$PREFIX.new/bin/qsub" "$PREFIX.new/bin/qselect"
  echo "$VERSION_STAMP" > "$PREFIX.new/.stamp"
  rm -rf "$PREFIX"
  mv "$PREFIX.new" "$PREFIX"
fi

# the wrappers answer through SLURM
PATH="$PREFIX/bin:$PATH" qstat -Q -f >/dev/null \
  || { echo "start-pbs.sh: qstat -Q -f failed" >&2; exit 1; }
echo "PBS/Torque wrappers ready over SLURM; put this first on PATH for the PBS backend:"
echo "$PREFIX/bin"
