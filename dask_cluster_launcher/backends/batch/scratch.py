"""A private scratch folder for every batch worker, made on the compute node by its job.

distributed puts a worker's spill files under ``--local-directory`` (else dask's
``temporary-directory``, else ``$TMPDIR`` or ``/tmp``) in a folder ``dask-scratch-space``, copies
its ``--preload`` module there and imports it from there. In a shared folder another user can
make ``dask-scratch-space`` first (or a link to it), own it, and swap the worker's folder before
the import: their module would run as the owner on the compute node.

So every job makes its own folder first, with ``mktemp -d`` (a new 0700 folder under a name
nobody can guess, never an existing one) inside the form's local directory (or ``$TMPDIR``, else
``/tmp``), gives it to the worker as ``--local-directory``, and removes it when the job ends.
"""

from __future__ import annotations

#: The shell variable that holds the job's scratch folder (used in the worker command).
VARIABLE = "DCL_SCRATCH"


def scratch_prologue(base: str) -> list[str]:
    """The job script lines that make the scratch folder under ``base`` (the form's local
    directory: letters, digits, ``_./~+${}:-`` only, so no quote or command can appear)."""
    if base.startswith("~"):
        base = "$HOME" + base[1:]  # no tilde expansion inside quotes
    parent = base.rstrip("/") or "${TMPDIR:-/tmp}"
    return [
        f'{VARIABLE}=$(mktemp -d "{parent}/dcl-XXXXXXXXXX") || exit 1',
        f"trap 'rm -rf \"${VARIABLE}\"' EXIT",
    ]


def worker_local_directory() -> str:
    """The worker's ``--local-directory`` argument: the folder the prologue made."""
    return f"${VARIABLE}"
