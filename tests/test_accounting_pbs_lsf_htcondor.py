"""The accounting readers of PBS, LSF and HTCondor: what each system says about an ended job
(its documented output, sources in docs/batch-facts.md), as the card words it."""

from __future__ import annotations

import json
from datetime import datetime

from dask_cluster_launcher.backends.batch.accounting_htcondor import (
    history_constraint,
    parse_condor_history,
)
from dask_cluster_launcher.backends.batch.accounting_lsf import (
    lsf_seconds,
    lsf_time,
    parse_bjobs_ended,
)
from dask_cluster_launcher.backends.batch.accounting_pbs import parse_finished

# --- LSF: bjobs -a -o "<BJOBS_ENDED_FIELDS>" -hms -json <ids> (IBM Spectrum LSF 10.1, bjobs -o
# and -json: {"COMMAND", "JOBS", "RECORDS"}; an unknown id is a record with "ERROR")
BJOBS = {
    "COMMAND": "bjobs",
    "JOBS": 5,
    "RECORDS": [
        {
            "JOBID": "101",
            "JOB_NAME": "dcl-abc",
            "STAT": "EXIT",
            "EXIT_CODE": "140",
            "EXIT_REASON": "TERM_RUNLIMIT: job killed after reaching LSF run time limit",
            "START_TIME": "Dec  7 03:10:00",
            "FINISH_TIME": "Dec  7 03:11:02",
            "RUN_TIME": "00:01:02",
            "NALLOC_SLOT": "2",
            "MAX_MEM": "210 Mbytes",
            "MEMLIMIT": "1000 M",
            "RUNTIMELIMIT": "00:01:00",
        },
        {
            "JOBID": "102",
            "JOB_NAME": "dcl-abc",
            "STAT": "EXIT",
            "EXIT_CODE": "130",
            "EXIT_REASON": "TERM_OWNER: job killed by owner",
            "START_TIME": "Dec  7 03:10:00",
            "FINISH_TIME": "Dec  7 03:10:30",
            "RUN_TIME": "30 second(s)",
            "NALLOC_SLOT": "1",
            "MAX_MEM": "-",
            "MEMLIMIT": "-",
            "RUNTIMELIMIT": "-",
        },
        {
            "JOBID": "103",
            "JOB_NAME": "dcl-abc",
            "STAT": "EXIT",
            "EXIT_CODE": "3",
            "EXIT_REASON": "-",
            "START_TIME": "Dec  7 03:12:00",
            "FINISH_TIME": "Dec  7 03:12:01",
            "RUN_TIME": "00:00:01",
            "NALLOC_SLOT": "1",
        },
        {
            "JOBID": "104",
            "STAT": "DONE",
            "EXIT_CODE": "-",
            "RUN_TIME": "00:00:09",
            "START_TIME": "Dec  7 03:13",
            "FINISH_TIME": "Dec  7 03:14 L",
            "NALLOC_SLOT": "1",
        },
        {"JOBID": "105", "STAT": "RUN", "RUN_TIME": "00:00:05"},
        {"JOBID": "106", "ERROR": "Job <106> is not found"},
    ],
}
NOW = datetime(2026, 12, 7, 4, 0).astimezone()


def test_bjobs_ended_jobs_say_walltime_owner_kill_exit_code():
    jobs = parse_bjobs_ended(json.dumps(BJOBS), NOW)
    assert set(jobs) == {"101", "102", "103", "104"}  # running and unknown ones left out
    timeout = jobs["101"]
    assert (timeout.state, timeout.reason) == ("TIMEOUT", "reached its walltime (00:01:00)")
    assert (timeout.elapsed_seconds, timeout.cores) == (62, 2)
    assert timeout.max_rss_bytes == 210 * 2**20 and timeout.memory_limit_bytes == 1000 * 2**20
    assert timeout.ended_at == datetime(2026, 12, 7, 3, 11, 2).astimezone()
    killed = jobs["102"]
    assert (killed.state, killed.reason, killed.elapsed_seconds) == ("CANCELLED", "cancelled", 30)
    failed = jobs["103"]
    assert (failed.state, failed.exit_code, failed.reason) == (
        "FAILED",
        3,
        "exited with code 3",
    )
    done = jobs["104"]
    assert (done.state, done.reason, done.elapsed_seconds) == ("COMPLETED", "exited normally", 9)
    assert done.ended_at == datetime(2026, 12, 7, 3, 14).astimezone()  # no -hms: minutes


def test_lsf_times_and_durations_in_each_of_bjobs_forms():
    assert [lsf_seconds(t) for t in ("00:01:05", "65 second(s)", "1.0 min", "-")] == [
        65,
        65,
        60,
        None,
    ]
    # no year: a date that would lie ahead is last year's
    assert lsf_time("Dec 31 23:59:59", NOW) == datetime(2025, 12, 31, 23, 59, 59).astimezone()
    assert lsf_time("-", NOW) is None


# --- HTCondor: condor_history -constraint ... -json -attributes <HISTORY_ATTRIBUTES> (HTCondor
# manual: condor_history; "Job ClassAd Attributes": JobStatus 3 Removed / 4 Completed,
# HoldReasonCode 46 JobDurationExceeded, 34 memory usage exceeded)
T0 = 1_796_613_000  # 2026-12-07 03:10:00 UTC
HISTORY = [
    {
        "ClusterId": 201,
        "ProcId": 0,
        "JobBatchName": "dcl-abc",
        "JobStatus": 3,
        "HoldReasonCode": 46,
        "HoldReason": "The job exceeded allowed job duration of 60 seconds",
        "RemoveReason": "The system macro SYSTEM_PERIODIC_REMOVE expression evaluated to TRUE",
        "JobCurrentStartDate": T0,
        "CompletionDate": 0,
        "EnteredCurrentStatus": T0 + 61,
        "RemoteWallClockTime": 61.0,
        "RequestCpus": 2,
        "RequestMemory": 954,
        "AllowedJobDuration": 60,
    },
    {
        "ClusterId": 202,
        "ProcId": 0,
        "JobStatus": 3,
        "RemoveReason": "via condor_rm (by user alice)",
        "JobCurrentStartDate": T0,
        "EnteredCurrentStatus": T0 + 30,
        "RemoteWallClockTime": 30.0,
        "RequestCpus": 1,
    },
    {
        "ClusterId": 203,
        "ProcId": 0,
        "JobStatus": 4,
        "ExitBySignal": False,
        "ExitCode": 3,
        "CompletionDate": T0 + 1,
        "RemoteWallClockTime": 1.0,
        "RequestCpus": 1,
    },
    {
        "ClusterId": 204,
        "ProcId": 0,
        "JobStatus": 4,
        "ExitBySignal": True,
        "ExitSignal": 9,
        "CompletionDate": T0 + 5,
        "RemoteWallClockTime": 5.0,
        "RequestCpus": 1,
    },
    {
        "ClusterId": 205,
        "ProcId": 0,
        "JobStatus": 3,
        "HoldReasonCode": 34,
        "EnteredCurrentStatus": T0 + 9,
        "RemoteWallClockTime": 9.0,
        "RequestMemory": 1024,
    },
]


def test_condor_history_says_duration_removal_exit_code_signal_memory():
    jobs = parse_condor_history(json.dumps(HISTORY))
    timeout = jobs["201.0"]
    assert (timeout.state, timeout.reason) == ("TIMEOUT", "reached its walltime (00:01:00)")
    assert (timeout.elapsed_seconds, timeout.cores, timeout.job_name) == (61, 2, "dcl-abc")
    assert timeout.ended_at == datetime.fromtimestamp(T0 + 61).astimezone()
    removed = jobs["202.0"]
    assert (removed.state, removed.reason) == ("CANCELLED", "removed via condor_rm (by user alice)")
    assert (jobs["203.0"].exit_code, jobs["203.0"].reason) == (3, "exited with code 3")
    assert (jobs["204.0"].signal, jobs["204.0"].reason) == (9, "killed by signal 9")
    assert (jobs["205.0"].state, jobs["205.0"].reason) == (
        "OUT_OF_MEMORY",
        "killed for memory (1 GiB)",
    )
    assert parse_condor_history("") == {}  # condor_history prints nothing when none matches


def test_condor_history_asks_for_these_jobs_of_this_owner_only():
    assert history_constraint("alice", ["12.0", "13"], ["dcl-abc"]) == (
        'Owner =?= "alice" && ((ClusterId == 12 && ProcId == 0) || '
        '(ClusterId == 13 && ProcId == 0) || JobBatchName =?= "dcl-abc")'
    )


# --- PBS Pro / OpenPBS: qstat -x -f -F json <ids> (PBS Professional Reference Guide: qstat -x,
# -F json; "Job Exit Status Codes": -29 JOB_EXEC_KILL_WALLTIME, -27 JOB_EXEC_KILL_MEM, > 256
# killed by signal)
PBS_PRO = {
    "timestamp": 1796616000,
    "pbs_version": "2022.1.1",
    "pbs_server": "pbs01",
    "Jobs": {
        "301.pbs01": {
            "Job_Name": "dcl-abc",
            "Job_Owner": "alice@login1",
            "job_state": "F",
            "Exit_status": -29,
            "stime": "Mon Dec  7 03:10:00 2026",
            "obittime": "Mon Dec  7 03:11:01 2026",
            "Resource_List": {"ncpus": 2, "mem": "1gb", "walltime": "00:01:00"},
            "resources_used": {"walltime": "00:01:01", "mem": "204800kb", "ncpus": 2},
        },
        "302.pbs01": {
            "Job_Name": "dcl-abc",
            "Job_Owner": "alice@login1",
            "job_state": "F",
            "Exit_status": 271,
            "stime": "Mon Dec  7 03:10:00 2026",
            "obittime": "Mon Dec  7 03:10:30 2026",
            "Resource_List": {"ncpus": 1, "walltime": "00:20:00"},
            "resources_used": {"walltime": "00:00:30"},
        },
        "303.pbs01": {
            "Job_Name": "dcl-abc",
            "Job_Owner": "alice@login1",
            "job_state": "F",
            "Exit_status": -27,
            "Resource_List": {"ncpus": 1, "mem": "400mb"},
            "resources_used": {"walltime": "00:00:04"},
        },
        "304.pbs01": {"Job_Owner": "mallory@login1", "job_state": "F", "Exit_status": 0},
        "305.pbs01": {"Job_Owner": "alice@login1", "job_state": "R"},
    },
}

# --- Torque: qstat -f <ids> of a completed job kept for keep_completed (Torque Administrator
# Guide: qstat -f, "Job exit status": -11 JOB_EXEC_OVERLIMIT_WT; start_time and comp_time in
# epoch seconds)
TORQUE = """\
Job Id: 401.torque01
\tJob_Name = dcl-abc
\tJob_Owner = alice@login1
\tjob_state = C
\texit_status = -11
\tstart_time = 1796613000
\tcomp_time = 1796613061
\tResource_List.walltime = 00:01:00
\tResource_List.ncpus = 1
\tresources_used.walltime = 00:01:01
Job Id: 402.torque01
\tJob_Name = dcl-abc
\tJob_Owner = alice@login1
\tjob_state = C
\texit_status = 3
\tstart_time = 1796613000
\tcomp_time = 1796613001
\tresources_used.walltime = 00:00:01
Job Id: 403.torque01
\tJob_Owner = alice@login1
\tjob_state = R
"""


def test_pbs_pro_history_says_walltime_qdel_memory_of_this_users_jobs():
    jobs = parse_finished(json.dumps(PBS_PRO), "alice")
    assert set(jobs) == {"301", "302", "303"}  # another user's and a running job left out
    timeout = jobs["301"]
    assert (timeout.state, timeout.reason) == ("TIMEOUT", "reached its walltime (00:01:00)")
    assert (timeout.elapsed_seconds, timeout.cores, timeout.max_rss_bytes) == (61, 2, 200 * 2**20)
    assert timeout.ended_at == datetime(2026, 12, 7, 3, 11, 1).astimezone()
    assert (jobs["302"].state, jobs["302"].signal, jobs["302"].reason) == (
        "CANCELLED",
        15,
        "cancelled",
    )
    assert jobs["303"].reason == "killed for memory (400 MiB)"


def test_torque_completed_jobs_say_walltime_and_exit_code():
    jobs = parse_finished(TORQUE, "alice")
    assert set(jobs) == {"401", "402"}
    timeout = jobs["401"]
    assert (timeout.state, timeout.reason, timeout.elapsed_seconds) == (
        "TIMEOUT",
        "reached its walltime (00:01:00)",
        61,
    )
    assert timeout.ended_at == datetime.fromtimestamp(1796613061).astimezone()
    assert (jobs["402"].exit_code, jobs["402"].reason) == (3, "exited with code 3")


# --- the emulators' accounting commands answer what the readers read (no job runs: a job's
# record is written as the emulator's shepherd leaves it when the job ends)
def ended_job(store, job_id, **fields):
    from dask_cluster_launcher.testing import batch_emulator as core

    job = core.new_job(store, job_id=job_id, name="dcl-abc", queue="normal", slots=1)
    job.update({"state": core.EXITED, "start_time": T0, "end_time": T0 + 61, "ad": {}, **fields})
    store.save(job)


def test_the_lsf_emulator_says_run_limit_and_owner_kills(tmp_path, monkeypatch):
    from dask_cluster_launcher.backends.batch.accounting_lsf import BJOBS_ENDED_FIELDS
    from dask_cluster_launcher.testing import batch_emulator as core
    from dask_cluster_launcher.testing import lsf_emulator, lsf_emulator_listing

    lsf_emulator.install(str(tmp_path))
    monkeypatch.setenv("LSF_ENVDIR", str(tmp_path / "conf"))
    monkeypatch.setattr(lsf_emulator_listing.time, "time", lambda: T0 + 70)
    store = core.Spool(tmp_path / "spool")
    ended_job(store, 7, run_limit=60, exit_status=130, end_note="run limit")
    ended_job(store, 8, run_limit=None, exit_status=130, end_note="killed")
    out = lsf_emulator_listing.bjobs(["-a", "-o", BJOBS_ENDED_FIELDS, "-hms", "-json", "7", "8"])
    jobs = parse_bjobs_ended(out)
    assert (jobs["7"].state, jobs["7"].reason) == ("TIMEOUT", "reached its walltime (00:01:00)")
    assert (jobs["7"].elapsed_seconds, jobs["7"].cores) == (61, 1)
    assert jobs["7"].ended_at == datetime.fromtimestamp(T0 + 61).astimezone()
    assert (jobs["8"].state, jobs["8"].reason) == ("CANCELLED", "cancelled")


def test_the_htcondor_emulator_keeps_a_history(tmp_path, monkeypatch):
    from dask_cluster_launcher.backends.batch.accounting_htcondor import HISTORY_ATTRIBUTES
    from dask_cluster_launcher.testing import batch_emulator as core
    from dask_cluster_launcher.testing import htcondor_emulator, htcondor_emulator_history

    htcondor_emulator.install(str(tmp_path))
    monkeypatch.setenv("CONDOR_CONFIG", str(tmp_path / "condor_config"))
    store = core.Spool(tmp_path / "spool")
    ended_job(store, 7, run_limit=60, exit_status=143, end_note="run limit")
    ended_job(store, 8, exit_status=143, end_note="killed", removed=True)
    ended_job(store, 9, exit_status=3)
    ended_job(store, 10, exit_status=0, state=core.DONE)
    constraint = history_constraint(core._user(), ["7.0", "8.0", "9.0"], [])
    args = ["-constraint", constraint, "-match", "3", "-json", "-attributes", HISTORY_ATTRIBUTES]
    jobs = parse_condor_history(htcondor_emulator_history.condor_history(args))
    assert set(jobs) == {"7.0", "8.0", "9.0"}
    assert (jobs["7.0"].state, jobs["7.0"].reason) == ("TIMEOUT", "reached its walltime (00:01:00)")
    assert jobs["8.0"].reason == f"removed via condor_rm (by user {core._user()})"
    assert (jobs["9.0"].state, jobs["9.0"].reason) == ("FAILED", "exited with code 3")
    assert jobs["9.0"].elapsed_seconds == 61
