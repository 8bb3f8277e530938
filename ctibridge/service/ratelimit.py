"""Per-key token buckets (one key per agent token): ``allow(key)`` is False when the key floods."""

from __future__ import annotations

import time
from collections.abc import Callable

from ctibridge.core.pacing import TokenBucket


class RateLimiter:
    def __init__(self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        self.per_second, self.burst, self.clock, self.max_keys = per_second, burst, clock, max_keys
        self._buckets: dict[str, TokenBucket] = {}  # least recently seen key first

    def allow(self, key: str) -> bool:
        now = self.clock()
        bucket = self._buckets.pop(key, None) or TokenBucket.full(self.per_second, self.burst, now)
        if len(self._buckets) >= self.max_keys:  # forget the least recently seen key
            del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = bucket
        return bucket.take(now)
