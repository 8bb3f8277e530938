"""The shared pacing policies: reconnect backoff (AMI client, CometD link) and token buckets (hub
sockets, HTTP rate limit)."""

from __future__ import annotations

import pytest

from ctibridge.core.pacing import Backoff, TokenBucket
from ctibridge.service.ratelimit import RateLimiter


def test_backoff_doubles_up_to_the_cap_and_starts_again_after_reset() -> None:
    backoff = Backoff(0.5, 4.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_jitter_lengthens_by_the_callers_draw() -> None:
    backoff = Backoff(1.0, 30.0, jitter=0.1)
    assert backoff.next_delay(0.0) == 1.0
    assert backoff.next_delay(0.5) == pytest.approx(2.0 * 1.05)


def test_backoff_exponent_stops_growing() -> None:
    backoff = Backoff(1e-9, float("inf"), attempt=10_000)
    assert backoff.next_delay() == 1e-9 * 2**16  # no OverflowError after a long outage


def test_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket.full(per_second=2.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(100.4) is False  # 0.8 of a token
    assert bucket.take(100.5) is True
    assert bucket.take(200.0) and bucket.tokens == 2.0  # refills to the burst, no further


def test_bucket_ignores_a_clock_that_steps_back() -> None:
    bucket = TokenBucket.full(per_second=1.0, burst=1, now=10.0)
    assert bucket.take(10.0)
    assert not bucket.take(5.0)


def test_rate_limiter_keeps_one_bucket_per_key_and_forgets_the_oldest() -> None:
    now = [0.0]
    limiter = RateLimiter(per_second=1.0, burst=1, clock=lambda: now[0], max_keys=2)
    assert limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b") and limiter.allow("c")  # "a" is forgotten: it starts full again
    assert limiter.allow("a")
    now[0] = 1.0
    assert limiter.allow("c")
