"""A command-line emulator of IBM Spectrum LSF 10.1 (``bsub``, ``bjobs``, ``bkill``, ``bqueues``,
``bhosts``) whose jobs really run, on this host, as the calling user (``batch_emulator.py``).

No LSF daemon can be installed on the test machine, so unmodified dask-jobqueue
(``LSFCluster``) and the launcher talk to these commands instead. They follow the IBM Spectrum
LSF 10.1 command reference (https://www.ibm.com/docs/en/spectrum-lsf/10.1.0, "Command
reference"): ``bsub`` (options, ``#BSUB`` lines of a script read from stdin, ``%J`` in output
files, "Job <id> is submitted to [default] queue <q>."), ``bjobs`` (default columns, ``-w``,
``-a``, ``-p`` with the pending reasons under each job, ``-o "field ..."`` with ``-json`` and
``-noheader``, ``-hms``, ``-u``, ``-J``; an ended job's ``exit_code``, ``exit_reason`` with
LSF's ``TERM_*`` words, ``start_time``, ``finish_time``, ``run_time``, ``nalloc_slot``,
``runtimelimit``), ``bkill`` ("kills the last job that was submitted ... Specify
job ID 0 to kill multiple jobs", SIGINT, SIGTERM, SIGKILL ``JOB_TERMINATE_INTERVAL`` apart),
``bqueues`` and ``bqueues -l`` (``RUNLIMIT``, "This is the default queue."), ``bhosts``.

As on LSF: ``bsub FILE`` runs FILE as the job's command and reads no ``#BSUB`` line from it
(directives count only in a script on stdin, dask-jobqueue's ``use-stdin``); the run limit
(``-W [hour:]minute``) ends a job with ``TERM_RUNLIMIT``; the job report is appended to the
``-o`` file when the job ends; ``-M`` is read in ``LSF_UNIT_FOR_LIMITS`` of ``lsf.conf``.
Resource requirements: ``span[hosts=1]`` and ``select[...]`` with ``==``, ``!=``, ``<``,
``<=``, ``>``, ``>=`` on ``type``, ``model``, ``ncpus``, ``maxmem`` (MB), joined by ``&&``; a
job no host satisfies waits with LSF's reason.

Set up with ``python -m dask_cluster_launcher.testing.lsf_emulator install DIR`` (what
``testbeds/start-lsf.sh`` does): ``DIR/bin`` holds the commands, ``DIR/conf`` (``LSF_ENVDIR``)
``lsf.conf`` and the emulated site (``lsb.emulator.json``: queues ``normal``, the default, with
no run limit and ``short`` with 30 minutes; one host with 16 slots), ``DIR/spool`` the jobs.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

from .batch_emulator import usage_error, write_commands
from .lsf_emulator_jobs import LSFError, bkill, bsub
from .lsf_emulator_listing import bhosts, bjobs, bqueues

MODULE = "dask_cluster_launcher.testing.lsf_emulator"  # __name__ is __main__ when run
COMMANDS = ("bsub", "bjobs", "bkill", "bqueues", "bhosts")


# --- installing and running the commands ----------------------------------------------------
def install(directory: str, slots: int = 16) -> Path:
    """Write the commands to ``directory/bin`` and the site to ``directory/conf``; the bin
    directory is returned (to put first on ``PATH``)."""
    root = Path(directory).resolve()
    bin_dir, conf, spool_root = root / "bin", root / "conf", root / "spool"
    for folder in (bin_dir, conf):
        folder.mkdir(parents=True, exist_ok=True)
    spool_root.mkdir(exist_ok=True)
    spool_root.chmod(0o1733)  # every user makes a spool of their own in it (like /tmp)
    (conf / "lsf.conf").write_text("LSF_UNIT_FOR_LIMITS=MB\n")
    machine = {"name": socket.gethostname(), "slots": slots, "type": "X86_64"}
    machine |= {"model": "Intel_EM64T", "ncpus": slots, "maxmem": 64 * 1024}
    queues = [
        {
            "name": "normal",
            "priority": 30,
            "default": True,
            "run_limit": None,
            "description": "For normal low priority jobs.",
        },
        {
            "name": "short",
            "priority": 40,
            "run_limit": 1800,
            "description": "Jobs up to 30 minutes.",
        },
    ]
    site_config = {"spool": str(spool_root), "hosts": [machine], "queues": queues}
    (conf / "lsb.emulator.json").write_text(json.dumps(site_config, indent=2))
    return write_commands(bin_dir, MODULE, COMMANDS, "LSF_ENVDIR", str(conf))


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"] and len(argv) == 2:
        print(install(argv[1]))
        return 0
    if usage := usage_error(argv, MODULE, COMMANDS):
        print(usage, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    try:
        if command == "bsub":
            sys.stdout.write(bsub(args, sys.stdin))
        elif command == "bkill":
            out, code = bkill(args)
            sys.stdout.write(out)
            return code
        else:
            sys.stdout.write({"bjobs": bjobs, "bqueues": bqueues, "bhosts": bhosts}[command](args))
    except LSFError as exc:
        print(exc, file=sys.stderr)
        return 255
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
