"""How the launcher's batch commands and job scripts are put together, without a batch system:
words quoted after a remote shell prefix, job scripts written as new private files (and removed
once submitted), and a job that reads no dask config key the form owns."""

from __future__ import annotations

import asyncio
import os
import shlex
import stat
from pathlib import Path
from typing import Any

import dask.config
import pytest

from dask_cluster_launcher.backends.batch import commands, job_scripts, submission
from dask_cluster_launcher.backends.batch.slurm import SLURMBackend
from tests.users import ATTACKER, require_user


def test_words_after_a_remote_shell_are_quoted_for_it():
    command = ["squeue", "-o", "%i|%j", "--name", "dcl-1; touch x"]
    assert commands.prefixed(("ssh", "login01"), command) == [
        "ssh",
        "login01",
        "squeue",
        "-o",
        "'%i|%j'",
        "--name",
        "'dcl-1; touch x'",
    ]
    assert commands.prefixed(("/usr/bin/ssh", "-q", "login01"), ["sinfo"])[:3] == [
        "/usr/bin/ssh",
        "-q",
        "login01",
    ]
    # a wrapper gets its arguments as they are (exec "$@"), and no prefix is no prefix
    assert commands.prefixed(("/opt/site/wrap",), command) == ["/opt/site/wrap", *command]
    assert commands.prefixed((), command) == command


class FinishedProcess:
    returncode = 0

    def __init__(self, out: str) -> None:
        self.out = out

    async def communicate(self) -> tuple[bytes, bytes]:
        return self.out.encode(), b""


async def test_a_job_is_submitted_and_cancelled_through_ssh_with_its_words_quoted(
    monkeypatch, tmp_path
):
    started: list[tuple[str, ...]] = []
    scripts: list[tuple[str, int, str]] = []

    async def fake_exec(*argv: str, **kwargs: Any) -> FinishedProcess:
        started.append(argv)
        if argv[2] == "sbatch":  # the script exists while it is submitted
            path = shlex.split(argv[3])[0]
            scripts.append((path, stat.S_IMODE(os.stat(path).st_mode), Path(path).read_text()))
        return FinishedProcess("Submitted batch job 4242\n")

    monkeypatch.setattr(asyncio, "create_subprocess_exec", fake_exec)
    backend = SLURMBackend()
    backend.command_prefix = ("ssh", "login01")
    folder = tmp_path / "private dir" / "jobs"
    folder.parent.mkdir(mode=0o700)
    job_class = backend.cluster_class().job_cls
    job = job_class(
        "tls://10.0.0.1:1",
        name="w0",
        cores=1,
        memory="1GB",
        job_name="dcl-0123456789ab",
        job_script_directory=str(folder),
    )
    await job.start()
    await job.close()
    [(path, mode, text)] = scripts
    assert job.job_id == "4242" and mode == 0o600 and "#SBATCH -J dcl-0123456789ab" in text
    assert Path(path).parent == folder and not Path(path).exists()  # removed once submitted
    assert started == [
        ("ssh", "login01", "sbatch", shlex.quote(path)),
        ("ssh", "login01", "scancel", "4242"),
    ]


def test_job_scripts_are_new_private_files_in_a_private_folder(tmp_path):
    folder = tmp_path / "jobs"
    first = job_scripts.write_job_script(folder, "#!/bin/sh\n", "dcl-x")
    second = job_scripts.write_job_script(folder, "#!/bin/sh\n", "dcl-x")
    assert first != second and first.name.startswith("dcl-x-") and first.suffix == ".sh"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    # a folder another user could swap: a link, or another user's folder, is refused
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(elsewhere)
    with pytest.raises(PermissionError, match="not a folder of yours"):
        job_scripts.write_job_script(tmp_path / "link", "#!/bin/sh\n")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o777)
    other = require_user(ATTACKER)
    os.chown(theirs, other.pw_uid, other.pw_gid)
    with pytest.raises(PermissionError, match="belongs to another user"):
        job_scripts.write_job_script(theirs, "#!/bin/sh\n")
    assert not list(elsewhere.iterdir()) and not list(theirs.iterdir())


def test_a_launcher_job_reads_no_config_key_the_form_owns():
    config = {
        "jobqueue.slurm.queue": "other-partition",
        "jobqueue.slurm.account": "other-account",
        "jobqueue.slurm.job-mem": "500G",
        "jobqueue.slurm.job-extra": ["--time=99:00:00"],
        "jobqueue.slurm.header-skip": ["-t"],
    }
    with dask.config.set(config):
        job_class = SLURMBackend().cluster_class().job_cls
        job = job_class(
            "tls://10.0.0.1:1",
            name="w0",
            cores=1,
            memory="1GB",
            walltime="00:10:00",
            job_script_directory="/nonexistent",
        )
        assert dask.config.get("jobqueue.slurm.job-mem") == "500G"  # restored after the job
    header = [line for line in job.job_script().splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH -t 00:10:00" in header and "#SBATCH --mem=954M" in header, header
    assert not [line for line in header if "other" in line or "99:00:00" in line], header
    assert submission.form_owned_config("eddie")["jobqueue.eddie.job-extra"] is None
