"""The JWKS cache against the GWS simulator's real JWKS endpoint: rotation (kid miss -> one
refetch), the refetch rate limit, an issuer that goes away (cached keys keep working), one that
was never reachable (4503)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ctibridge.identity.jwks import JwksCache
from ctibridge.identity.jwt_token import JwtPolicy, JwtVerifier
from ctibridge.identity.refusal import Refused
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.gws.auth import TokenIssuer

AGENT = SimAgent("agent1", "pw-2f7a", "5001")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[GwsSimulator]:
    sim = GwsSimulator([AGENT])
    await sim.start()
    yield sim
    await sim.stop()


def verifier(sim: GwsSimulator, clock: Clock, *, refresh_s: float = 300.0,
             min_refetch_s: float = 30.0) -> JwtVerifier:
    jwks = JwksCache(sim.base_url + "/auth/v3/jwks", refresh_s=refresh_s, min_refetch_s=min_refetch_s,
                     timeout_s=2.0, monotonic=clock)
    return JwtVerifier(JwtPolicy(sim.issuer.issuer, sim.issuer.audience), jwks)


async def test_rotated_key_is_fetched_once_then_cached(sim: GwsSimulator) -> None:
    clock = Clock()
    v = verifier(sim, clock, min_refetch_s=30.0)
    assert (await v.verify(sim.issuer.issue(AGENT))).agent == "agent1"
    sim.issuer.rotate()
    clock.now += 30
    for _ in range(3):
        assert (await v.verify(sim.issuer.issue(AGENT))).dns == frozenset({"5001"})
    assert (v.jwks.stats.fetches, v.jwks.stats.kid_misses) == (2, 1)


async def test_unknown_kids_refetch_at_most_once_per_interval(sim: GwsSimulator) -> None:
    clock = Clock()
    v = verifier(sim, clock, min_refetch_s=30.0)
    await v.verify(sim.issuer.issue(AGENT))
    clock.now += 31
    for _ in range(5):  # made-up kids: someone else's key
        with pytest.raises(Refused) as refused:
            await v.verify(TokenIssuer(issuer=sim.issuer.issuer).issue(AGENT))
        assert refused.value.reason == "bad_signature"
    assert v.jwks.stats.fetches == 2  # the first miss refetched, the next four were rate limited
    sim.issuer.rotate()
    clock.now += 31
    assert (await v.verify(sim.issuer.issue(AGENT))).agent == "agent1"  # the new key: one more fetch
    assert v.jwks.stats.fetches == 3


async def test_cached_keys_keep_working_while_the_issuer_is_down(sim: GwsSimulator) -> None:
    clock = Clock()
    v = verifier(sim, clock, refresh_s=60.0)
    token = sim.issuer.issue(AGENT)
    await v.verify(token)
    sim.fail_next(503, times=5, endpoint="jwks")
    clock.now += 61  # time to refresh: the refresh fails, the cached key still verifies
    for _ in range(3):  # and the issuer is asked again only after min_refetch_s
        assert (await v.verify(token)).agent == "agent1"
    assert (v.jwks.stats.fetches, v.jwks.stats.failures) == (2, 1)
    sim.issuer.rotate()  # a new key while the JWKS cannot be read: that token cannot be checked
    clock.now += 31
    with pytest.raises(Refused) as refused:
        await v.verify(sim.issuer.issue(AGENT))
    assert refused.value.reason == "identity_unavailable" and v.jwks.stats.failures == 2


async def test_never_reachable_issuer_is_identity_unavailable(sim: GwsSimulator) -> None:
    token = sim.issuer.issue(AGENT)
    await sim.stop()
    with pytest.raises(Refused) as refused:
        await verifier(sim, Clock()).verify(token)
    assert (refused.value.reason, refused.value.code) == ("identity_unavailable", 4503)


async def test_a_jwks_that_is_not_one_is_unavailable_not_a_crash(sim: GwsSimulator) -> None:
    v = verifier(sim, Clock())
    v.jwks.url = sim.base_url + "/api/v2/me"  # answers, but not with keys
    with pytest.raises(Refused) as refused:
        await v.verify(sim.issuer.issue(AGENT))
    assert refused.value.reason == "identity_unavailable" and v.jwks.stats.failures == 1
