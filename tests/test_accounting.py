"""The accounting readers: what sacct and qacct say about ended jobs, as the card words it."""

from __future__ import annotations

from dask_cluster_launcher.backends.batch.accounting import parse_qacct, parse_sacct

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
