"""The accounting readers: what sacct and qacct say about ended jobs, as the card words it."""

from __future__ import annotations

from dataclasses import replace

from dask_cluster_launcher.backends.batch import commands
from dask_cluster_launcher.backends.batch.accounting import (
    AccountingFile,
    parse_qacct,
    parse_sacct,
)

# sacct 22.05, --parsable2 --noheader -o SACCT_FIELDS: a walltime, a memory kill, an exit code
SACCT = """\
41|TIMEOUT|0:0|2026-12-07T03:10:00|2026-12-07T03:11:05|65|1|billing=1,cpu=1,mem=500M,node=1||None|1|500M
41.batch|CANCELLED|0:15|2026-12-07T03:10:00|2026-12-07T03:11:06|66|1|cpu=1,mem=500M,node=1|204800K||||
41.extern|COMPLETED|0:0|2026-12-07T03:10:00|2026-12-07T03:11:05|65|1|billing=1,cpu=1,mem=500M,node=1|0||||
42|FAILED|0:125|2026-12-07T03:12:00|2026-12-07T03:12:09|9|2|billing=2,cpu=2,gres/gpu=1,mem=1G,node=1||None|5|1G
42.batch|OUT_OF_MEMORY|0:125|2026-12-07T03:12:00|2026-12-07T03:12:09|9|2|cpu=2,mem=1G,node=1|1100M||||
43|FAILED|3:0|2026-12-07T03:13:00|2026-12-07T03:13:01|1|1|billing=1,cpu=1,mem=500M,node=1||None|5|500M
45|FAILED|0:9|2026-12-07T03:16:16|2026-12-07T03:16:18|2|1|billing=1,cpu=1,mem=100M,node=1||None|UNLIMITED|100M
45.batch|CANCELLED|0:9|2026-12-07T03:16:16|2026-12-07T03:16:18|2|1|cpu=1,mem=100M,node=1|527104K|||
44|CANCELLED by 0|0:0|None|2026-12-07T03:14:00|0|0|||None|5|500M
"""


def test_sacct_rows_fold_steps_into_their_job():
    jobs = parse_sacct(SACCT)
    assert set(jobs) == {"41", "42", "43", "44", "45"}
    timeout, oom, failed, cancelled = (jobs[i] for i in ("41", "42", "43", "44"))
    assert (timeout.state, timeout.reason) == ("TIMEOUT", "reached its walltime (00:01:00)")
    assert timeout.elapsed_seconds == 65 and timeout.cores == 1
    assert timeout.max_rss_bytes == 204800 * 1024
    assert timeout.started_at is not None and timeout.started_at.tzinfo is not None
    assert (oom.state, oom.reason) == ("OUT_OF_MEMORY", "killed for memory (1 GiB)")
    assert oom.gpus == 1 and oom.cores == 2
    assert (failed.state, failed.exit_code, failed.reason) == ("FAILED", 3, "exited with code 3")
    assert cancelled.state == "CANCELLED" and cancelled.started_at is None
    assert cancelled.reason == "cancelled before it started"
    # no cgroups (the test bed): OverMemoryKill's SIGKILL, its peak past its --mem
    killed = jobs["45"]
    assert (killed.state, killed.reason) == ("OUT_OF_MEMORY", "killed for memory (100 MiB)")
    assert killed.time_limit_seconds is None  # UNLIMITED
    # the same job before slurmdbd has its steps: not known yet (asked again next poll)
    assert "45" not in parse_sacct(SACCT.replace("527104K", ""))


QACCT = """\
==============================================================
qname        all.q
hostname     node1
owner        alice
jobname      dcl-abc
jobnumber    900
qsub_time    Mon Dec  7 03:00:00 2026
start_time   Mon Dec  7 03:00:01 2026
end_time     Mon Dec  7 03:01:02 2026
slots        1
failed       100 : assumedly after job
exit_status  137                  (Killed)
ru_wallclock 61s
maxvmem      200.000MB
category     -l h_rt=60,h_vmem=1G
==============================================================
qname        all.q
owner        alice
jobname      dcl-abc
jobnumber    901
start_time   Mon Dec  7 03:00:01 2026
end_time     Mon Dec  7 03:00:05 2026
slots        2
failed       0
exit_status  3
ru_wallclock 4s
maxvmem      10.000M
category     -l h_rt=60,h_vmem=1G
==============================================================
jobname      dcl-abc
jobnumber    902
start_time   Mon Dec  7 03:00:01 2026
end_time     Mon Dec  7 03:00:11 2026
slots        1
failed       100 : assumedly after job
exit_status  137                  (Killed)
ru_wallclock 10s
maxvmem      1.000G
category     -l h_rt=60,h_vmem=1G
"""


def test_qacct_records_map_onto_slurm_words():
    jobs = parse_qacct(QACCT)
    walltime, failed, memory = jobs["900"], jobs["901"], jobs["902"]
    assert (walltime.state, walltime.reason) == ("TIMEOUT", "reached its walltime (00:01:00)")
    assert walltime.signal == 9 and walltime.elapsed_seconds == 61
    assert walltime.max_rss_bytes == 200 * 2**20
    assert (failed.state, failed.exit_code, failed.reason) == ("FAILED", 3, "exited with code 3")
    assert failed.cores == 2
    assert (memory.state, memory.reason) == ("OUT_OF_MEMORY", "killed for memory (1 GiB)")


def file_line(job_id, name="dcl-abc", owner="alice", failed="0", status="0", wallclock="4"):
    columns = ["all.q", "node1", "users", owner, name, job_id, "sge", "0", "1796614800"]
    columns += ["1796614801", "1796614805", failed, status, wallclock] + ["0"] * 20
    columns += ["1", "0", "0.01", "0", "0", "-l h_rt=60,h_vmem=1G", "0", "NONE"]
    columns += ["209715200.000000", "0", "0"]
    assert len(columns) == 45
    return ":".join(columns) + "\n"


def test_the_accounting_file_is_read_as_it_grows(tmp_path):
    path = tmp_path / "accounting"
    path.write_text(
        "# Version: 8.1.9\n" + file_line("900", failed="37", status="137", wallclock="61")
    )
    reader = AccountingFile(str(path), "alice", "dcl-")
    [walltime] = reader.read().values()
    assert (walltime.state, walltime.reason) == ("TIMEOUT", "reached its walltime (00:01:00)")
    assert walltime.max_rss_bytes == 200 * 2**20 and walltime.cores == 1
    # another user's job, a job not the launcher's, and a line still being written
    with path.open("a") as f:
        f.write(file_line("901", owner="bob") + file_line("902", name="other"))
        f.write(file_line("903", status="3")[:40])
    assert set(reader.read()) == {"900"}
    with path.open("a") as f:
        f.write(file_line("903", status="3")[40:])
    assert reader.read()["903"].reason == "exited with code 3"
    path.write_text(file_line("1", status="0"))  # rotated
    assert reader.read()["1"].state == "COMPLETED"


def test_the_accounting_file_says_what_qacct_says(sge_testbed):
    """On the Grid Engine test bed: the file's records and qacct's, job by job."""
    user = commands.login_name()
    path = "/var/lib/gridengine/default/common/accounting"
    from_file = AccountingFile(path, user, "dcl-").read()
    out = sge_testbed.run(["qacct", "-o", user, "-j", "dcl-*"], check=False).stdout
    from_qacct = parse_qacct(out)
    both = set(from_file) & set(from_qacct)  # (a job may end between the two reads)
    assert len(both) >= len(from_qacct) - 1 > 0, (len(from_file), len(from_qacct))
    for job_id in both:
        # qacct rounds maxvmem to 3 decimals of its unit
        assert replace(from_file[job_id], max_rss_bytes=0) == replace(
            from_qacct[job_id], max_rss_bytes=0
        ), job_id
