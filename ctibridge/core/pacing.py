"""Pacing policies shared by the adapters: reconnect backoff and token buckets.

Pure: the caller passes the time (``now``) and any random draw in, so the policies are the same in
the service, in replay and in tests, and the core still reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_DOUBLINGS = 16  # 2**16 times the first delay is past any sensible cap: stop growing the exponent


@dataclass(slots=True)
class Backoff:
    """Exponential reconnect delay with a cap; ``reset()`` once a connection is up again.

    ``jitter`` is the largest fraction added to a delay (0.1: up to 10 % longer), scaled by the
    caller's random draw, so instances that lost one peer together do not retry in step."""

    initial: float = 0.5
    cap: float = 30.0
    jitter: float = 0.0
    attempt: int = 0  # delays handed out since the last reset

    def next_delay(self, draw: float = 0.0) -> float:
        """The delay before the next attempt; ``draw`` in [0, 1) scales the jitter."""
        delay = min(self.cap, self.initial * 2.0 ** min(self.attempt, MAX_DOUBLINGS))
        self.attempt += 1
        return delay * (1.0 + self.jitter * draw)

    def reset(self) -> None:
        self.attempt = 0


@dataclass(slots=True)
class TokenBucket:
    """``burst`` requests at once, ``per_second`` on average; starts full."""

    per_second: float
    burst: float
    tokens: float
    at: float  # when ``tokens`` was last brought up to date

    @classmethod
    def full(cls, per_second: float, burst: float, now: float) -> TokenBucket:
        return cls(per_second, burst, float(burst), now)

    def take(self, now: float) -> bool:
        """Spend one token if there is one; False means the caller is over its rate."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
