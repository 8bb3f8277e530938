"""What checking a widget's credential costs: a bridge-minted HMAC token, a WWE RS256 JWT (keys
cached from the GWS simulator's JWKS), a GWS session (``GET /api/v2/me`` to the simulator on
loopback) cold and cached. Printed, not asserted (run via bench/run.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bench.common import Row, row
from ctibridge.identity.gws_session import GwsSessionVerifier
from ctibridge.identity.hmac_token import HmacTokenVerifier, mint
from ctibridge.identity.jwks import JwksCache
from ctibridge.identity.jwt_token import JwtPolicy, JwtVerifier
from ctibridge.sim.gws import GwsSimulator, SimAgent

AGENT = SimAgent("agent1", "bench-password", "5001")
SECRET = b"bench-identity-secret-0123456789"


async def _per_call_us(verify: Callable[[str], Awaitable[object]], token: str, n: int) -> list[float]:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            await verify(token)
        samples.append((time.perf_counter() - start) / n * 1e6)
    return samples


async def _measure(n: int) -> list[Row]:
    sim = GwsSimulator([AGENT])
    await sim.start()
    try:
        hmac = HmacTokenVerifier(SECRET)
        jwt = JwtVerifier(JwtPolicy(sim.issuer.issuer, sim.issuer.audience),
                          JwksCache(sim.base_url + "/auth/v3/jwks"))
        hmac_us = await _per_call_us(hmac.verify, mint(SECRET, "agent1", ["5001"], 3600, time.time()), n)
        jwt_us = await _per_call_us(jwt.verify, sim.issuer.issue(AGENT), n)
        cold = GwsSessionVerifier(sim.base_url, cache_s=0)
        warm = GwsSessionVerifier(sim.base_url, cache_s=3600)
        cookie = sim.open_session(AGENT.username)
        cold_us = await _per_call_us(cold.verify, cookie, max(1, n // 20))
        warm_us = await _per_call_us(warm.verify, cookie, n)
    finally:
        await sim.stop()
    return [
        row("identity.hmac_verify", "HMAC token check", "us", hmac_us),
        row("identity.jwt_verify", "RS256 JWT check, JWKS cached", "us", jwt_us),
        row("identity.session_verify_cold", "GWS session: GET /api/v2/me (loopback sim)", "us", cold_us),
        row("identity.session_verify_cached", "GWS session, answer cached", "us", warm_us),
    ]


def run(quick: bool = False) -> list[Row]:
    return asyncio.run(_measure(20 if quick else 2000))
