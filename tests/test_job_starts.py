"""Units of the start-failure rules (see job_starts) and of the error line a job row shows;
tests/test_job_start_failures.py sees them on the real SLURM test bed."""

from __future__ import annotations

from dask_cluster_launcher.backends.batch.slurm import parse_squeue
from dask_cluster_launcher.job_logs import last_error_line
from dask_cluster_launcher.job_starts import StartFailures

CHAINED = """\
2026-12-06 23:59:28,499 - distributed.nanny - INFO - Closing Nanny at 'not-running'
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/distributed/utils.py", line 200, in get_ip_interface
    raise ValueError(
ValueError: 'ib0' is not a valid network interface. Valid network interfaces are: ['lo']

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/distributed/core.py", line 517, in start
    raise RuntimeError(f"{type(self).__name__} failed to start.") from exc
RuntimeError: Nanny failed to start.
"""


def test_the_error_line_is_the_cause_of_the_last_exception():
    assert last_error_line([CHAINED]) == (
        "ValueError: 'ib0' is not a valid network interface. Valid network interfaces are: ['lo']"
    )
    # two separate failures: the last one counts
    assert last_error_line(["KeyError: 'a'\nnothing\nOSError: disk full\n"]) == (
        "OSError: disk full"
    )
    # no traceback: a shell's or batch system's words; stdout when stderr has nothing
    shell = "/bin/bash: /opt/py/bin/python: No such file or directory\n"
    assert last_error_line(["", shell]) == shell.strip()
    assert last_error_line([None, "all fine\n"]) is None
    assert len(last_error_line(["ValueError: " + "x" * 2000]) or "") == 500


def test_squeue_rows_of_ended_jobs_carry_their_exit_code():
    out = (
        "13|dcl-a|FAILED|NonZeroExitCode|vm|UNLIMITED|256\n"
        "14|dcl-a|CANCELLED|None|vm|UNLIMITED|15\n"
        "15|dcl-a|RUNNING|None|vm|19:53|0\n"
    )
    rows = {row["job_id"]: row for row in parse_squeue(out)["dcl-a"]}
    assert rows["13"]["exit_code"] == 1 and rows["13"]["reason"] == "NonZeroExitCode"
    assert rows["14"]["exit_code"] == 128 + 15  # killed by SIGTERM
    assert "exit_code" not in rows["15"]  # still running: no exit code yet


def job(job_id: str, state: str, **more) -> dict:
    return {
        "job_id": job_id,
        "state": state,
        "reason": None,
        "host": "n1",
        "time_left": None,
        **more,
    }


def test_jobs_that_end_before_their_worker_joined_stay_and_fail_the_start():
    starts = StartFailures()
    starts.update([job("1", "PENDING"), job("2", "PENDING")], [])
    assert starts.verdict() is None
    rows = starts.update([job("1", "RUNNING"), job("2", "FAILED", exit_code=1)], [])
    assert [(r["job_id"], r["state"]) for r in rows] == [("1", "RUNNING"), ("2", "FAILED")]
    assert starts.unread == {"2"} and starts.verdict() is None  # its log is not read yet
    starts.set_error("2", "ValueError: no ib0")
    assert starts.verdict() is None  # job 1 may still bring a worker
    # job 1 leaves the queue without a worker: every job failed
    rows = starts.update([], [])
    assert [(r["job_id"], r["state"]) for r in rows] == [("2", "FAILED"), ("1", "ENDED")]
    starts.set_error("1", "ValueError: no ib0")
    assert starts.verdict() == (
        "ValueError: no ib0 (all 2 batch jobs ended before a worker joined; "
        "the log of job 1 has the rest)"
    )


def test_jobs_whose_worker_joined_or_that_never_ran_leave_quietly():
    starts = StartFailures()
    starts.update([job("1", "RUNNING"), job("2", "PENDING"), job("3", "PENDING")], ["1"])
    # 1 ran a worker (walltime), 2 was cancelled while it waited (scaled down), 3 vanished
    # while pending (cancelled, forgotten by the batch system): nothing to show
    rows = starts.update([job("1", "TIMEOUT"), job("2", "CANCELLED")], [])
    assert rows == [] and starts.verdict() is None
    starts.set_error("3", None, wrote_log=False)  # it wrote no log: it never ran
    assert starts.rows() == [] and starts.verdict() is None and not starts.unsure


def test_a_job_that_ran_and_crashed_between_two_polls_is_told_by_its_log():
    # Grid Engine forgets a job at once: a worker that crashes within a poll interval is
    # only ever seen waiting
    starts = StartFailures()
    starts.update([job("7", "PENDING")], [])
    assert starts.update([], []) == [] and starts.verdict() is None  # its log is read first
    starts.set_error("7", "ValueError: 'nonexistent0' is not a valid network interface")
    [row] = starts.rows()
    assert (row["job_id"], row["state"]) == ("7", "ENDED")
    assert starts.verdict() == (
        "ValueError: 'nonexistent0' is not a valid network interface (its batch job ended "
        "before a worker joined; the log of job 7 has the rest)"
    )


def test_three_identical_failures_fail_the_start_while_other_jobs_wait():
    starts = StartFailures()
    polled = [job(str(i), "FAILED", exit_code=1) for i in range(3)] + [job("9", "PENDING")]
    starts.update(polled, [])
    for i in range(3):
        starts.set_error(str(i), "ModuleNotFoundError: No module named 'distributed'")
    assert "3 batch jobs ended before a worker joined" in (starts.verdict() or "")
    # once a worker joined, ended jobs are shown but fail nothing
    starts.update(polled, ["9"])
    assert starts.verdict() is None
    # also a worker that names no job (the rows of an MPI job's workers may not)
    other = StartFailures()
    other.update([job("1", "FAILED", exit_code=1)], [None])
    other.set_error("1", "OSError: gone")
    assert other.rows()[0]["error"] == "OSError: gone" and other.verdict() is None
