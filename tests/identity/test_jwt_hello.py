"""A widget signs in with the JWT WWE gives it (``auth.getJwtToken``); the real service checks it
against the GWS simulator's issuer (real RSA keys, JWKS over HTTP) and refuses each bad token with
its own close code, reason and counter."""

from __future__ import annotations

import time

from fixtures_identity import WEBRTC_SECRET, identity_auth
from identity_rig import admitted, refusal
from service_rig import AGENTS, Rig, running_service

from ctibridge.gateway.settings import webrtc_password
from ctibridge.sim.gws.auth import TokenIssuer

AGENT1, AGENT2 = AGENTS


def jwt(token: str) -> dict[str, str]:
    return {"kind": "jwt", "token": token}


async def test_wwe_jwt_admits_the_agent_and_hands_its_phone_the_sip_login(identity_bridge: Rig) -> None:
    rig = identity_bridge
    token = await rig.wwe_jwt(await rig.sign_in(AGENT1))
    frames = await admitted(await rig.hello("5001", jwt(token)))
    assert [f["type"] for f in frames] == ["sip_credentials", "snapshot"]
    assert frames[0] == {"type": "sip_credentials", "dn": "5001", "username": "5001",
                         "password": webrtc_password(WEBRTC_SECRET, "5001"), "ws_servers": None,
                         "realm": None}
    assert rig.components.hub.stats.refusals == {}


async def test_each_bad_jwt_has_its_own_refusal(identity_bridge: Rig) -> None:
    rig = identity_bridge
    issuer = rig.gws.issuer
    long_ago = time.time() - 3600
    cases = [
        (issuer.issue(AGENT1, now=long_ago, ttl_s=60), 4401, "expired"),
        (issuer.issue(AGENT1, iss="https://other-issuer.test/auth"), 4401, "wrong_issuer"),
        (issuer.issue(AGENT1, aud="someone-else"), 4401, "wrong_audience"),
        (TokenIssuer(issuer=issuer.issuer).issue(AGENT1), 4401, "bad_signature"),  # a key not in the JWKS
        (_tampered(issuer.issue(AGENT1)), 4401, "bad_signature"),
        ("not.a.jwt", 4401, "invalid"),
        (issuer.issue(AGENT1, dn=[]), 4401, "invalid"),
    ]
    for token, code, reason in cases:
        assert await refusal(await rig.hello("5001", jwt(token))) == (code, reason), reason
    counts = rig.components.hub.stats.refusals
    assert counts == {"expired": 1, "wrong_issuer": 1, "wrong_audience": 1, "bad_signature": 2, "invalid": 2}
    async with rig.http.get(rig.url("/metrics")) as resp:
        metrics = await resp.text()
    assert 'ctibridge_refused_from_widget_hub_total{reason="wrong_audience"} 1.0' in metrics


async def test_a_dn_that_is_not_the_agents_is_refused_4403(identity_bridge: Rig) -> None:
    rig = identity_bridge
    token = await rig.wwe_jwt(await rig.sign_in(AGENT1))
    assert await refusal(await rig.hello(AGENT2.dn, jwt(token))) == (4403, "dn_not_allowed")


async def test_a_hello_replayed_from_another_origin_is_refused_unread(identity_bridge: Rig) -> None:
    rig = identity_bridge
    token = await rig.wwe_jwt(await rig.sign_in(AGENT1))
    fetches = rig.components.verifier.jwt.jwks.stats.fetches  # type: ignore[union-attr]
    for origin in ("https://evil.example", "http://wwe.test.evil.example"):
        replayed = await rig.hello("5001", jwt(token), origin=origin)
        assert await refusal(replayed) == (4403, "origin_not_allowed")
    assert rig.components.hub.stats.refusals == {"origin_not_allowed": 2}
    assert rig.components.verifier.jwt.jwks.stats.fetches == fetches  # type: ignore[union-attr]


async def test_an_unreachable_jwks_is_4503_and_counted() -> None:
    async with running_service(auth=identity_auth(jwks_url="http://127.0.0.1:9/jwks"),
                               wait_ready=False) as broken:
        token = await broken.wwe_jwt(await broken.sign_in(AGENT1))
        assert await refusal(await broken.hello("5001", jwt(token))) == (4503, "identity_unavailable")
        assert broken.components.hub.stats.refusals == {"identity_unavailable": 1}
        assert broken.components.verifier.jwt.jwks.stats.failures == 1  # type: ignore[union-attr]


async def test_rest_api_takes_the_jwt_as_bearer_only_in_the_header(identity_bridge: Rig) -> None:
    rig = identity_bridge
    token = await rig.wwe_jwt(await rig.sign_in(AGENT1))
    async with rig.http.get(rig.url("/api/calls"), headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
    async with rig.http.get(rig.url("/api/calls"), params={"token": token}) as resp:
        assert resp.status == 401


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if signature[5] != "A" else "B"
    return f"{header}.{payload}.{signature[:5]}{flipped}{signature[6:]}"
