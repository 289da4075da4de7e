"""Run the tasks of a cluster in one allocation with no HTTP listener (see ``allocation``):
``python dcl_mpi_run.py DASK_MPI_ARGS`` (dask-mpi, under MPI) or ``python dcl_mpi_run.py
--slurm-runner ARGS`` (dask-jobqueue's SLURMRunner under ``srun``, no MPI; the same arguments).

Every task of the job runs this file (a copy in the cluster's private directory, beside
``dcl_private_http.py``, the copy of ``private_http``). The scheduler and workers would each
serve distributed's HTTP routes (health, identity, workers, logs, metrics) on a TCP port of the
compute node for the whole job, readable by any user of the node: importing
``dcl_private_http`` first replaces their ``start_http_server`` so that none listens. The
launcher reads the job's scheduler over its TLS RPC instead, and offers no dashboard link.

Each rank's scratch space is a fresh private folder of its own (``mkdtemp``: 0700, a name no one
can take first), removed when the rank ends, made inside the folder that ``--local-directory``
or dask's ``temporary-directory`` names (else the temporary directory): distributed would use
``<that folder>/dask-scratch-space``, which in a shared folder another user can make first, and
it copies and imports its preload module from there.

Standalone on purpose: it runs under the job's Python, which needs dask-mpi (MPI) or
dask-jobqueue (SLURMRunner) but not this package.
Worker processes that multiprocessing starts import this file again (as ``__mp_main__``), so
they get the replacement too.
"""

import os
import sys

import dcl_private_http  # noqa: F401  (the folder of this file comes first on sys.path)


def private_scratch(argv: list[str]) -> list[str]:
    """``argv`` with ``--local-directory`` set to a new private folder inside the one named
    (else inside dask's ``temporary-directory``, else the temporary directory)."""
    import atexit
    import shutil
    import signal
    import tempfile

    import dask

    base = dask.config.get("temporary-directory", None)
    rest: list[str] = []
    arguments = iter(argv)
    for arg in arguments:
        option, equals, value = arg.partition("=")
        if option == "--local-directory":
            base = value if equals else next(arguments, base)
        else:
            rest.append(arg)
    scratch = tempfile.mkdtemp(prefix="dcl-", dir=os.path.expandvars(base) if base else None)
    atexit.register(shutil.rmtree, scratch, True)

    def remove_scratch_and_leave(signum: int, frame: object) -> None:
        # scancel and the walltime's end send SIGTERM; mpirun passes it on and sends SIGKILL
        # about a second later, often before a worker has closed (and atexit would run): the
        # folder goes first
        shutil.rmtree(scratch, True)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, remove_scratch_and_leave)
    dask.config.set({"temporary-directory": scratch})
    return [*rest, "--local-directory", scratch]


def run_slurm_runner(argv: list[str]) -> None:
    """Task ``SLURM_PROCID`` 0: the scheduler, writing ``--scheduler-file``; every other task:
    one worker named ``<--name>-<task>``, as dask-mpi names them. The runner's client role is
    not used (``client=False``): the notebook is the client. TLS and its credentials come from
    the dask config in the job's environment, as for dask-mpi."""
    import argparse
    import json

    from dask_jobqueue.slurm import SLURMRunner

    parser = argparse.ArgumentParser(prog="dcl_mpi_run.py --slurm-runner")
    for option in ("--scheduler-file", "--protocol", "--memory-limit", "--name"):
        parser.add_argument(option, required=True)
    parser.add_argument("--nthreads", type=int, required=True)
    parser.add_argument("--dashboard-address", default="127.0.0.1:0")
    parser.add_argument("--no-dashboard", action="store_true")
    parser.add_argument("--worker-options", default="{}")
    parser.add_argument("--interface", default=None)
    parser.add_argument("--local-directory", default=None)
    args = parser.parse_args(argv)
    network = {"protocol": args.protocol, "interface": args.interface}
    closed = {"dashboard": False, "dashboard_address": args.dashboard_address}
    worker_options = {
        **network,
        **closed,
        "nthreads": args.nthreads,
        "memory_limit": int(args.memory_limit),
        "local_directory": args.local_directory,
        **json.loads(args.worker_options),
    }

    class NamedRunner(SLURMRunner):
        async def get_worker_name(self) -> str:
            return f"{args.name}-{self.proc_id}"

    # the runner formats the path with the job id: braces of the path itself stay as they are
    scheduler_file = args.scheduler_file.replace("{", "{{").replace("}", "}}")
    NamedRunner(
        client=False,
        scheduler_file=scheduler_file,
        scheduler_options={**network, **closed, "port": 0},
        worker_options=worker_options,
    )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--slurm-runner"]:
        run_slurm_runner(private_scratch(arguments[1:]))
    else:
        from dask_mpi.cli import main

        sys.argv[1:] = private_scratch(arguments)
        main(prog_name="dask-mpi")
