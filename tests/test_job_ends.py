"""Why jobs ended: the accounting asked once per backend and poll, the card's rows it gives."""

from __future__ import annotations

from dask_cluster_launcher.backends.batch.accounting import parse_qacct, parse_sacct
from dask_cluster_launcher.job_ends import TRIES, JobEnds

SACCT = """\
11|TIMEOUT|0:0|2026-12-07T03:10:00|2026-12-07T03:11:05|65|1|cpu=1||None|1|500M
12|CANCELLED by 0|0:15|2026-12-07T03:10:00|2026-12-07T03:10:30|30|1|cpu=1||None|1|500M
21|FAILED|3:0|2026-12-07T03:10:00|2026-12-07T03:10:01|1|1|cpu=1||None|1|500M
22|PENDING|0:0|Unknown|Unknown|0|1|cpu=1||None|1|500M
"""


class Accounting:
    """A backend whose accounting knows jobs 11, 12 and 21 ended (22 not yet: slurmdbd
    still has it PENDING)."""

    keeps_accounting = True

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    async def account_jobs(self, job_ids, names=()):
        self.asked.append(job_ids)
        return {k: v for k, v in parse_sacct(SACCT).items() if k in job_ids}


def row(job_id, state="RUNNING"):
    return {"job_id": job_id, "state": state, "reason": None, "host": None, "exit_code": None}


async def test_one_accounting_call_per_poll_for_every_cluster_and_the_rows_it_gives():
    ends, backend = JobEnds(), Accounting()
    ends.observe("a", [row("11"), row("12")])
    ends.observe("b", [row("21"), row("22")])
    assert await ends.account(backend, ["a", "b"]) == {} and backend.asked == []  # none left
    # 11 hit its walltime and 12 was scaled down (both gone from the queue); 21 failed and
    # squeue still lists it; 22 vanished and the accounting does not know it yet
    ends.observe("a", [])
    ends.observe("b", [row("21", "FAILED")])
    accounted = await ends.account(backend, ["a", "b"])
    assert backend.asked == [["11", "12", "21", "22"]] and ends.calls == 1
    assert set(accounted) == {"11", "12", "21", "22"}
    # the walltime stays on the card (its worker had joined); the scale-down does not
    [timeout] = ends.rows("a", [])
    assert timeout["job_id"] == "11" and timeout["state"] == "TIMEOUT"
    assert timeout["end"]["reason"] == "reached its walltime (00:01:00)"
    assert timeout["end"]["ended_at"].startswith("2026-12-07T03:11:05")
    # a row the card shows already (a start failure) gets its end, once
    [failed] = ends.rows("b", [row("21", "FAILED")])
    assert failed["end"]["exit_code"] == 3 and failed["end"]["reason"] == "exited with code 3"
    # 22 is asked about at each poll until the accounting knows it, TRIES polls at most
    for _ in range(TRIES + 2):
        await ends.account(backend, ["a", "b"])
    assert backend.asked[1:] == [["22"]] * (TRIES - 1)
    # a job taken back while it waited (scale-down) is asked about twice only
    ends.observe("b", [row("23", "PENDING")])
    ends.observe("b", [])
    del backend.asked[:]
    for _ in range(4):
        await ends.account(backend, ["b"])
    assert backend.asked == [["23"], ["23"]]


async def test_a_batch_system_that_writes_its_records_late_is_asked_until_they_may_come(
    monkeypatch,
):
    """Grid Engine flushes its accounting file every 15 s by default: a job over in a moment
    has no record for that long, however many polls pass; then it is given up."""
    now = [1000.0]
    monkeypatch.setattr("dask_cluster_launcher.job_ends.time.monotonic", lambda: now[0])
    ends, backend = JobEnds(), Accounting()
    backend.accounting_delay = 15.0
    ends.observe("a", [row("22")])
    ends.observe("a", [])  # 22 left the queue; its accounting still says PENDING
    for _ in range(14):  # polls 1 s apart: more than TRIES, less than 15 s
        now[0] += 1.0
        await ends.account(backend, ["a"])
    assert len(backend.asked) == 14 > TRIES and not ends.settled("a")
    now[0] += 1.0
    await ends.account(backend, ["a"])
    assert ends.settled("a")  # 15 s and its polls past: given up
    await ends.account(backend, ["a"])
    assert len(backend.asked) == 15


async def test_a_failure_without_its_exit_code_is_asked_again_and_taken_at_the_last_try():
    """slurmdbd once answered FAILED with no exit code for a job that exited 1 (CI): the card
    would say "failed" where the next answer says "exited with code 1"."""
    answers = [
        "31|FAILED|0:0|2026-12-07T03:10:00|2026-12-07T03:10:01|1|1|cpu=1||None|1|500M\n",
        "31|FAILED|1:0|2026-12-07T03:10:00|2026-12-07T03:10:01|1|1|cpu=1||None|1|500M\n",
    ]

    class Late(Accounting):
        async def account_jobs(self, job_ids, names=()):
            self.asked.append(job_ids)
            return parse_sacct(answers[min(len(self.asked), len(answers)) - 1])

    ends, backend = JobEnds(), Late()
    ends.observe("a", [row("31")])
    ends.observe("a", [])
    await ends.account(backend, ["a"])
    assert not ends.settled("a")  # "failed" and nothing more: asked again
    await ends.account(backend, ["a"])
    [ended] = ends.rows("a", [row("31", "FAILED")])
    assert ended["end"]["reason"] == "exited with code 1"
    # a record that stays bare is taken at the last try rather than never
    answers[1] = answers[0]
    ends, backend = JobEnds(), Late()
    ends.observe("a", [row("31")])
    ends.observe("a", [])
    for _ in range(TRIES):
        await ends.account(backend, ["a"])
    assert ends.settled("a")
    assert ends.rows("a", [row("31", "FAILED")])[0]["end"]["reason"] == "failed"


async def test_a_starting_cluster_with_nothing_listed_finds_its_jobs_by_name():
    """Grid Engine forgets a job the moment it ends: one that crashed between two polls was
    never listed; the same accounting call finds it by the cluster's job name."""
    crashed = parse_qacct(QACCT_CRASH)

    class GridEngine:
        keeps_accounting = True
        asked: list = []

        async def account_jobs(self, job_ids, names=()):
            self.asked.append((job_ids, list(names)))
            return {k: v for k, v in crashed.items() if k in job_ids or v.job_name in names}

    ends, backend = JobEnds(), GridEngine()
    ends.observe("c0ffee", [], starting=True)
    ends.observe("other", [row("5")], starting=True)  # listed: nothing to look for
    await ends.account(backend, ["c0ffee", "other"])
    assert backend.asked == [([], ["dcl-c0ffee"])]
    [found] = ends.found("c0ffee")
    assert (found["job_id"], found["state"], found["exit_code"]) == ("31", "FAILED", 1)
    assert found["end"]["reason"] == "exited with code 1"
    assert ends.found("other") == []
    # found once: no more looking for that cluster
    ends.observe("c0ffee", [], starting=True)
    await ends.account(backend, ["c0ffee"])
    assert len(backend.asked) == 1


QACCT_CRASH = """\
==============================================================
jobname      dcl-c0ffee
jobnumber    31
start_time   Mon Dec  7 03:00:01 2026
end_time     Mon Dec  7 03:00:02 2026
slots        1
failed       0
exit_status  1
ru_wallclock 1s
category     -l h_rt=1200,h_vmem=1G
"""


def test_a_job_its_log_says_slurmstepd_killed_for_memory_ends_killed_for_memory():
    """The accounting says FAILED by signal 9; slurmstepd's line in the log says why, for the
    job or for its batch step (both seen here)."""
    from dask_cluster_launcher.job_ends import _Cluster, _end_of

    cluster = _Cluster()
    cluster.ends["641"] = {"state": "FAILED", "reason": "killed by signal 9", "exit_code": 0}
    killed = {"state": "OUT_OF_MEMORY", "reason": "killed for memory (400 MB)", "exit_code": 0}
    cluster.memory_kills["641"] = killed
    step = "slurmstepd-vm: error: StepId=641.batch exceeded memory limit (1270341632 > 400556032)"
    job = "slurmstepd: error: Exceeded job memory limit at some point."
    for error in (step + ", being killed", job):
        assert _end_of(cluster, {"job_id": "641", "error": error}) == killed
    other = {"job_id": "641", "error": "Segmentation fault"}
    assert _end_of(cluster, other)["reason"] == "killed by signal 9"
