"""How a batch job starts its worker process: forked from its nanny, with no dashboard of its own.

Most of the time to N batch workers is CPU in the jobs (``benchmarks/batch.py``, "inside the batch
jobs"): with distributed's defaults each job starts Python twice, the nanny
(``python -m distributed.cli.dask_worker``, importing distributed) and the worker process the
nanny *spawns* (a new Python that imports distributed again), and the worker imports bokeh for
its own dashboard. On SLURM here 8 such jobs took 3.5-7.8 s from the nanny listening to the worker
listening; forked from the nanny, 0.26-0.5 s.

- ``distributed.worker.multiprocessing-method: fork`` (an environment variable the job script
  exports): the nanny forks the worker process, which has distributed imported already. The
  nanny has run no user code by then (only ``--preload-nanny`` modules, if a form adds them).
- distributed sets ``distributed.nanny.pre-spawn-environ`` (``MALLOC_TRIM_THRESHOLD_``,
  ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``) in the nanny just before it
  starts the worker process. glibc reads the first when a process starts and the BLAS
  libraries read the others when they load, which for a forked worker happened in the nanny
  (distributed imports numpy): so the job script exports them before the nanny starts, as
  distributed's documentation asks of whoever chooses ``fork``.
- What else a forked worker inherits and a spawned one would not have (the nanny's signal
  handlers, distributed's offload thread pool) the worker's preload sets back
  (``hosting/private_http.py``, ``dask_setup``).
- ``--no-dashboard``: the worker's HTTP server listens nowhere (the preload), so its dashboard
  pages could never be opened; importing bokeh for them took as long as importing distributed.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

#: The job script line that makes the nanny fork its worker process.
FORK_WORKER_PROCESS = "export DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD=fork"
#: The worker argument that leaves out the worker's own (unreachable) dashboard.
NO_WORKER_DASHBOARD = "--no-dashboard"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRINTABLE = re.compile(r"[ -~]*")


def pre_spawn_environ() -> dict[str, str]:
    """What distributed's nanny sets before it starts a worker process (the dask config of the
    process that builds the job script, as the form's defaults come from it); names that are
    not shell variables and values with other than printable ASCII are left out."""
    import dask.config
    import distributed  # noqa: F401  (its defaults are in dask's config once it is imported;
    # every caller builds a dask-jobqueue job next, which imports it anyway)

    found: Any = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    if not isinstance(found, dict):
        return {}
    return {
        str(name): str(value)
        for name, value in found.items()
        if _NAME.fullmatch(str(name)) and _PRINTABLE.fullmatch(str(value))
    }


def fork_prologue() -> list[str]:
    """The job script lines (before the form's own prologue, which may change them) that make
    the nanny fork its worker process with the environment a spawned one would start with."""
    exports = [f"export {name}={shlex.quote(value)}" for name, value in pre_spawn_environ().items()]
    return [*exports, FORK_WORKER_PROCESS]
