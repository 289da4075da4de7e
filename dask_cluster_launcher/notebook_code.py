"""The code a notebook gets for a cluster: the explicit form (address and TLS files), the short
form (one ``connect`` call) where the notebook's kernel can run it, and a warning when the
kernel's versions differ from the cluster's, as distributed would complain at connect time."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConflictError, InvalidRequest
from .handles.base import scheduler_up
from .kernels import kernel_python, mismatches
from .launched import LaunchedCluster


@dataclass(frozen=True)
class NotebookCode:
    #: the explicit form, copied by "Copy full code"
    code: str
    #: the short form the sidebar inserts; None where only the explicit one works
    connect_code: str | None
    #: why the notebook's kernel may not run this code, or None
    warning: str | None


async def notebook_code(
    launched: LaunchedCluster, base_url: str, kernel_spec_manager: Any, kernel: str | None
) -> NotebookCode:
    """The code for a notebook on ``kernel`` (None: no kernel known) to use ``launched``."""
    if not scheduler_up(launched):  # a starting cluster's scheduler takes clients
        raise ConflictError(f"cluster {launched.name!r} is {launched.state}, not running")
    assert launched.handle is not None
    code = launched.handle.client_code(base_url)
    short = launched.handle.connect_code(base_url)
    if not kernel or kernel_spec_manager is None:
        return NotebookCode(code, short, None)
    try:
        notebook = await kernel_python(kernel_spec_manager, kernel)
    except InvalidRequest as exc:  # the code is still inserted: say why it may not run
        reason = exc.message.removeprefix("kernel: ")
        return NotebookCode(code, None, f"The kernel {kernel!r} may not run this code: {reason}.")
    # another Python environment may lack this package: the explicit form works there
    if Path(notebook.python).parent != Path(sys.executable).parent:
        short = None
    different = mismatches(launched.versions, notebook.versions) if launched.versions else []
    warning = (
        f"The kernel {kernel!r} differs from the cluster: {'; '.join(different)}. "
        "Launch the cluster with this notebook's kernel to match."
        if different
        else None
    )
    return NotebookCode(code, short, warning)
