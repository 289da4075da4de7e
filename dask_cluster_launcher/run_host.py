"""``python -m dask_cluster_launcher.run_host SPEC.json`` (or ``--spare``): a cluster host
process; see ``hosting.host`` for what it does and ``hosting.start`` for how it starts.

A module of its own that imports nothing at its top: multiprocessing starts each worker process
of a local cluster by importing the host's main module again (as ``__mp_main__``), and this one
costs them nothing, where ``host`` would make every worker import the launcher's backends
(50-150 ms more per worker start).
"""

if __name__ == "__main__":
    from dask_cluster_launcher.hosting.start import main

    main()
