"""Units of what a cluster used (usage.py), the usage log and ``dask-cluster-launcher usage``;
tests/test_usage_batch.py sees them on the real SLURM test bed with its accounting."""

from __future__ import annotations

import os
import stat
from datetime import datetime

from dask_cluster_launcher import cli, usage_log
from dask_cluster_launcher.backends.batch.accounting import AccountedJob
from dask_cluster_launcher.backends.batch.slurm import parse_squeue
from dask_cluster_launcher.usage import PUBLISH_SECONDS, UsageMeter, UsagePublication
from dask_cluster_launcher.usage_log import UsageLine

T0 = 1_800_000_000.0


def running(job_id: str, started: float, cores: int | None = None) -> dict:
    return {"job_id": job_id, "state": "RUNNING", "started_at": started, "cores": cores}


def accounted(job_id: str, elapsed: int, cores: int, state: str = "CANCELLED") -> AccountedJob:
    return AccountedJob(job_id, state, exit_code=0, elapsed_seconds=elapsed, cores=cores)


def test_running_jobs_count_allocated_cores_times_the_time_since_they_started():
    meter = UsageMeter(cores_per_job=1)
    meter.observe([{"job_id": "1", "state": "PENDING"}], T0)
    assert meter.usage(T0)["core_hours"] == 0  # a pending job uses nothing
    meter.observe([running("1", T0), running("2", T0 + 3600, cores=4)], T0 + 3600)
    # 1 core x 2 h + 4 cores x 1 h (squeue's allocation wins over the form's 1)
    assert meter.usage(T0 + 7200)["core_hours"] == 6.0
    assert meter.usage(T0 + 7200)["final"] is False


def test_without_a_start_time_a_job_counts_from_the_first_poll_that_saw_it_run():
    meter = UsageMeter(cores_per_job=2)  # (PBS, LSF, HTCondor rows have no start time)
    meter.observe([{"job_id": "1", "state": "RUNNING"}], T0)
    meter.observe([{"job_id": "1", "state": "RUNNING"}], T0 + 1800)
    assert meter.usage(T0 + 3600)["core_hours"] == 2.0


def test_a_job_that_left_the_queue_counts_until_the_last_poll_that_saw_it_run():
    meter = UsageMeter(cores_per_job=2)
    meter.observe([running("1", T0)], T0 + 1800)
    meter.observe([], T0 + 3600)  # gone between the polls: no more than what was seen
    assert meter.usage(T0 + 7200)["core_hours"] == 1.0
    # squeue's end time of a job it still lists as ended is taken as it is
    meter.observe([{**running("2", T0), "state": "COMPLETED", "ended_at": T0 + 900}], T0 + 3600)
    assert meter.usage(T0 + 7200)["core_hours"] == 1.5


def test_accounting_makes_the_numbers_exact_and_final_once_the_cluster_stopped():
    meter = UsageMeter(cores_per_job=1)
    meter.observe([running("1", T0), running("2", T0)], T0 + 50)
    meter.account([accounted("1", 61, 1)])
    meter.closed = True
    assert meter.unaccounted() == ["2"]
    assert meter.usage(T0 + 50)["final"] is False
    # a job the accounting still has running is not final either
    meter.account([accounted("2", 30, 1, state="RUNNING")])
    assert meter.unaccounted() == ["2"]
    meter.account([accounted("2", 62, 2)])
    usage = meter.usage(T0 + 10_000)
    assert usage["core_hours"] == round((61 + 2 * 62) / 3600, 4)
    assert usage["final"] is True


def test_a_job_deleted_while_it_waited_used_nothing_once_the_accounting_answered():
    meter = UsageMeter(cores_per_job=1)
    meter.observe([running("1", T0), {"job_id": "2", "state": "PENDING"}], T0 + 10)
    meter.closed = True
    meter.never_ran(["1"])  # Grid Engine has no record of job 2
    assert meter.unaccounted() == ["1"]  # job 1 ran: its record is only late
    meter.account([accounted("1", 12, 1)])
    assert meter.usage(T0 + 20) == {**meter.usage(T0 + 20), "core_hours": 0.0033, "final": True}


def test_usage_is_published_when_it_changed_visibly_and_at_most_every_few_seconds():
    meter = UsageMeter(cores_per_job=400)
    publication = UsagePublication()
    meter.observe([running("1", T0)], T0)
    assert publication.due(meter.usage(T0), T0)  # the first value
    assert not publication.due(meter.usage(T0), T0 + 1)  # the same
    # 400 cores: the shown value changes every second, the model not more than every 10 s
    assert not publication.due(meter.usage(T0 + 5), T0 + 5)
    assert publication.due(meter.usage(T0 + PUBLISH_SECONDS), T0 + PUBLISH_SECONDS)
    meter.closed = True
    meter.account([accounted("1", 11, 400)])
    assert publication.due(meter.usage(T0 + 11), T0 + 11)  # final: at once


def test_squeue_rows_carry_start_end_and_allocation():
    out = (
        "21|dcl-a|RUNNING|None|n1|19:00|0|2026-12-07T03:00:00|2026-12-07T03:20:00|"
        "cpu=2,mem=1G,node=1,billing=2,gres/gpu=1\n"
        "22|dcl-a|CANCELLED|None|n1|5:00|15|2026-12-07T03:00:00|2026-12-07T03:01:00|"
        "cpu=1,mem=1G,node=1\n"
        "23|dcl-a|PENDING|Resources||20:00|0|N/A|N/A|\n"
    )
    rows = {row["job_id"]: row for row in parse_squeue(out)["dcl-a"]}
    start = datetime.fromisoformat("2026-12-07T03:00:00").timestamp()
    assert rows["21"]["started_at"] == start and rows["21"]["ended_at"] is None
    assert (rows["21"]["cores"], rows["21"]["gpus"]) == (2, 1)
    assert rows["22"]["ended_at"] == start + 60 and rows["22"]["cores"] == 1
    assert "started_at" not in rows["23"]


def line(n: int, stopped: str = "2026-12-07T03:00:00+00:00", hours: float = 0.5) -> UsageLine:
    return UsageLine(
        cluster_id=f"c{n:011d}",
        name=f"SLURM {n}",
        backend="slurm",
        created=stopped,
        stopped=stopped,
        core_hours=hours,
        gpu_hours=0.0,
        final=True,
        jobs=2,
    )


def test_the_usage_log_is_private_and_bounded(tmp_path, monkeypatch):
    root = tmp_path / "private"
    monkeypatch.setattr(usage_log, "KEPT_LINES", 3)
    for n in range(7):
        usage_log.append(root, line(n))
    mode = stat.S_IMODE(os.stat(usage_log.log_path(root)).st_mode)
    assert mode == 0o600
    kept = usage_log.read(root)
    assert [x.cluster_id for x in kept] == [line(n).cluster_id for n in (4, 5, 6)]


def test_the_command_line_prints_each_cluster_and_each_day(tmp_path, capsys):
    root = tmp_path / "private"
    usage_log.append(root, line(1, "2026-12-06T23:00:00+00:00", 1.25))
    usage_log.append(root, line(2, "2026-12-07T01:00:00+00:00", 0.0333))
    usage_log.append(root, line(3, "2026-12-07T02:00:00+00:00", 12.5))
    assert cli.main(["usage", "--private-dir", str(root)]) == 0
    rows = [row.split() for row in capsys.readouterr().out.splitlines()]
    assert ["c00000000002", "slurm", "0.03", "0.00", "SLURM", "2"] in [r[1:] for r in rows]
    assert ["2026-12-06", "1", "1.25", "0.00"] in rows
    assert ["2026-12-07", "2", "12.5", "0.00"] in rows  # 0.0333 + 12.5: one decimal past 10


def test_a_line_from_a_crash_mid_write_is_skipped(tmp_path):
    root = tmp_path / "private"
    usage_log.append(root, line(1))
    with open(usage_log.log_path(root), "a") as f:
        f.write('{"cluster_id": "half')
    assert [x.cluster_id for x in usage_log.read(root)] == [line(1).cluster_id]
