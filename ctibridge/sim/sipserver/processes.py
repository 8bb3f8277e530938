"""Ending a child process of the lab: ask it to stop, kill it if it has not within a grace time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def end(process: asyncio.subprocess.Process, ask: Callable[[], None], grace_s: float = 5.0) -> None:
    if process.returncode is not None:
        return
    ask()
    try:
        await asyncio.wait_for(process.wait(), grace_s)
    except TimeoutError:
        process.kill()
        await process.wait()
