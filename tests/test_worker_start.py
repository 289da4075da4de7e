"""The job script lines that make a batch job's nanny fork its worker (worker_start.py)."""

from __future__ import annotations

import dask

from dask_cluster_launcher.backends.batch.worker_start import FORK_WORKER_PROCESS, fork_prologue


def test_fork_prologue_exports_what_the_nanny_would_set_before_spawning():
    assert fork_prologue() == [  # distributed's own pre-spawn-environ
        "export MALLOC_TRIM_THRESHOLD_=65536",
        "export OMP_NUM_THREADS=1",
        "export MKL_NUM_THREADS=1",
        "export OPENBLAS_NUM_THREADS=1",
        FORK_WORKER_PROCESS,
    ]


def test_fork_prologue_quotes_values_and_leaves_out_what_is_no_shell_variable():
    environ = {"A_1": "x y", "BAD NAME": "1", "B": "$(id)", "C": "two\nlines", "D": "é"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        lines = fork_prologue()
    assert lines == ["export A_1='x y'", "export B='$(id)'", FORK_WORKER_PROCESS]
