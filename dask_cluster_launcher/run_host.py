"""``python -m dask_cluster_launcher.run_host SPEC.json``: a cluster host process (or, with
``--forker``, the process hosts are forked from); see ``hosting.host`` for what a host does and
``hosting.start`` for how it starts.

A module of its own that imports nothing at its top: multiprocessing starts each worker process
of a local cluster by importing the host's main module again (as ``__mp_main__``), and this one
costs them nothing, where ``host`` would make every worker import the launcher's backends
(50-150 ms more per worker start).

A host imports distributed without numpy (6 MB of each host's memory, more with its libraries
counted): distributed only tries it to allocate the buffers that messages are read into, and
uses a ``bytearray`` when it is missing. Tasks that import numpy (in thread workers, or in
worker processes forked from the host) get it as usual, and the dashboard imports it when opened.
"""

if __name__ == "__main__":
    import sys

    lean = "numpy" not in sys.modules
    if lean:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # importing it fails, for now
    try:
        from dask_cluster_launcher.hosting.start import main
    finally:
        if lean:
            del sys.modules["numpy"]
    main()
