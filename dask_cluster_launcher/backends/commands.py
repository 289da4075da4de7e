"""Running batch-system commands without blocking the Jupyter server's event loop."""

from __future__ import annotations

import asyncio
import shutil


class BatchCommandError(RuntimeError):
    """A batch command failed or did not answer in time; the message says which and why."""


def missing_commands(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


async def run(*command: str, timeout: float = 15.0, check: bool = True) -> str:
    """stdout of ``command`` (an argument list, never a shell string)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise BatchCommandError(f"{command[0]}: {exc.strerror}") from exc
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise BatchCommandError(f"{command[0]} did not answer within {timeout:g} s") from None
    if check and process.returncode != 0:
        message = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise BatchCommandError(f"{command[0]} failed: {message}")
    return out.decode(errors="replace")
