"""Wait for a condition with a deadline (tests never sleep a fixed time)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T] | T], *, within: float = 5.0, what: str = "") -> T:
    """Poll ``check`` (sync or async) until it returns a truthy value; fail after ``within`` s."""
    end = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"not true after {within}s: {what or check}")
        await asyncio.sleep(0.01)
