"""The GWS simulator as the lab's identity provider: sign-in sets an HttpOnly, SameSite=Lax
session cookie; ``GET /api/v2/me`` answers for it with the user's devices; RS256 JWTs for the
signed-in agent verify against the published JWKS; a bearer JWT opens a GWS session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest

from ctibridge.config import JwtAuth
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.gws.auth import bridge_jwt_section

AGENT = SimAgent("agent1", "pw-91c3e", "5001")
SIGN_IN = "/auth/v3/sign-in"


@pytest.fixture
async def sim() -> AsyncIterator[GwsSimulator]:
    sim = GwsSimulator([AGENT, SimAgent("agent2", "pw-2", "5002")])
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def test_sign_in_cookie_then_me_with_devices(sim: GwsSimulator, http: aiohttp.ClientSession) -> None:
    async with http.post(sim.base_url + SIGN_IN, data={"username": "agent1", "password": "nope"}) as r:
        assert r.status == 401 and "Set-Cookie" not in r.headers
    async with http.get(sim.base_url + "/api/v2/me") as r:
        assert r.status == 401
    login = {"username": "agent1", "password": AGENT.password}
    async with http.post(sim.base_url + SIGN_IN, json=login) as r:
        assert r.status == 200
        set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    async with http.get(sim.base_url + "/api/v2/me") as r:  # the cookie alone
        user = (await r.json())["user"]
    assert user["userName"] == "agent1" and [d["phoneNumber"] for d in user["devices"]] == ["5001"]


async def test_jwt_for_the_session_verifies_against_the_jwks(sim: GwsSimulator,
                                                             http: aiohttp.ClientSession) -> None:
    async with http.get(sim.base_url + "/auth/v3/jwt") as r:
        assert r.status == 401  # nobody signed in
    await http.post(sim.base_url + SIGN_IN, data={"username": "agent1", "password": AGENT.password})
    async with http.get(sim.base_url + "/auth/v3/jwt") as r:
        token = (await r.json())["token"]
    async with http.get(sim.base_url + "/auth/v3/jwks") as r:
        jwks = jwt.PyJWKSet.from_dict(await r.json())
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="ctibridge", issuer=sim.issuer.issuer)
    assert claims["sub"] == "agent1" and claims["dn"] == "5001" and claims["exp"] > claims["iat"]
    section = JwtAuth.model_validate(bridge_jwt_section(sim))
    assert section.issuer == sim.base_url + "/auth/v3" and str(section.jwks_url).endswith("/auth/v3/jwks")


async def test_bearer_jwt_opens_a_gws_session(sim: GwsSimulator) -> None:
    async with aiohttp.ClientSession() as http:
        bearer = {"Authorization": f"Bearer {sim.issuer.issue(AGENT)}"}
        async with http.get(sim.base_url + "/api/v2/me", headers=bearer) as r:
            assert r.status == 200 and (await r.json())["user"]["userName"] == "agent1"
            assert r.cookies["JSESSIONID"].value
        forged = {"Authorization": f"Bearer {sim.issuer.issue(AGENT, aud='other')}"}
        async with http.get(sim.base_url + "/api/v2/me", headers=forged) as r:
            assert r.status == 401


async def test_a_wwe_stand_in_page_may_fetch_tokens_from_the_browser(sim: GwsSimulator,
                                                                     http: aiohttp.ClientSession) -> None:
    page, stranger = "http://127.0.0.1:4711", "http://evil.test"
    sim.issuer.page_origins.add(page)
    preflight = {"Origin": page, "Access-Control-Request-Method": "POST"}
    async with http.options(sim.base_url + SIGN_IN, headers=preflight) as r:
        assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == page
    await http.post(sim.base_url + SIGN_IN, data={"username": "agent1", "password": AGENT.password},
                    headers={"Origin": page})
    async with http.get(sim.base_url + "/auth/v3/jwt", headers={"Origin": page}) as r:
        assert r.status == 200 and r.headers["Access-Control-Allow-Credentials"] == "true"
        assert r.headers["Access-Control-Allow-Origin"] == page
    async with http.get(sim.base_url + "/auth/v3/jwt", headers={"Origin": stranger}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers  # the browser hides the answer
    async with http.get(sim.base_url + "/api/v2/me", headers={"Origin": page}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers  # only the sign-in endpoints
