"""Every way the server stops must stop its clusters (and cancel their batch jobs).

jupyter-server stops gracefully on SIGTERM: ``ServerApp._signal_stop`` -> ``stop()`` -> the
extensions' ``stop_extension`` (ours closes every cluster) -> the event loop ends. SIGINT does
not take that path, yet JupyterHub's "Stop My Server" sends SIGINT first:

- jupyter-server handles SIGINT only when stdin is a terminal (to ask "Shutdown? y/n"). Under
  JupyterHub it is not, so Python's default handler raises ``KeyboardInterrupt``, which
  ``ServerApp.start_ioloop`` catches and returns from: the process exits, clusters not closed.
- importing ``dask_jobqueue`` (``dask_jobqueue.runner``, imported by its ``slurm``/``sge``/...
  modules) runs ``signal.signal(SIGINT, lambda *_: sys.exit())`` at module level, terminal or
  not: ``SystemExit`` ends the process the same way.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from typing import Any

log = logging.getLogger(__name__)


def stop_on_sigint(serverapp: Any) -> bool:
    """Make SIGINT stop the server the graceful way, as SIGTERM does; True if installed.

    Call it once the server has installed its own signal handlers (extension load time).
    """
    if signal.getsignal(signal.SIGTERM) != serverapp._signal_stop:
        # The server does not own this process's signals (pytest-jupyter turns
        # ServerApp.init_signal off, for instance): leave them to whoever does.
        log.debug("SIGTERM is not the server's graceful stop; SIGINT left alone")
        return False
    # A module's top level runs once per process: import dask_jobqueue.runner now, so that its
    # SIGINT handler is set before ours and a later (lazy) import of dask_jobqueue is a no-op
    # that cannot replace ours. Costs the import of distributed, which every launch needs anyway.
    with contextlib.suppress(ImportError):
        import dask_jobqueue.runner  # noqa: F401
    # On a terminal keep jupyter-server's own prompt (a second Ctrl-C or "y" stops the same
    # graceful way); without one, stop at once, as jupyterhub-singleuser does.
    interactive = sys.stdin is not None and sys.stdin.isatty()
    handler = serverapp._handle_sigint if interactive else serverapp._signal_stop
    signal.signal(signal.SIGINT, handler)
    return True
