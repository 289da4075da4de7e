"""Run dask-mpi in an MPI job with no HTTP listener: ``python dcl_mpi_run.py DASK_MPI_ARGS``.

Every rank of an MPI cluster's job runs this file (a copy in the cluster's private directory,
beside ``dcl_private_http.py``, the copy of ``private_http``). dask-mpi's scheduler and workers
would each serve distributed's HTTP routes (health, identity, workers, logs, metrics) on a TCP
port of the compute node for the whole job, readable by any user of the node: importing
``dcl_private_http`` first replaces their ``start_http_server`` so that none listens. The
launcher reads the job's scheduler over its TLS RPC instead, and offers no dashboard link.

Each rank's scratch space is a fresh private folder of its own (``mkdtemp``: 0700, a name no one
can take first), removed when the rank ends, made inside the folder that ``--local-directory``
or dask's ``temporary-directory`` names (else the temporary directory): distributed would use
``<that folder>/dask-scratch-space``, which in a shared folder another user can make first, and
it copies and imports its preload module from there.

Standalone on purpose: it runs under the job's Python, which needs dask-mpi but not this package.
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


if __name__ == "__main__":
    from dask_mpi.cli import main

    sys.argv[1:] = private_scratch(sys.argv[1:])
    main(prog_name="dask-mpi")
