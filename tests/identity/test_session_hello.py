"""A widget served under the GWS origin: the browser sends the agent's GWS session cookie on the
``/ws`` upgrade and the hello names no token. The bridge asks GWS (the simulator) who the session
is: user and devices (the DN)."""

from __future__ import annotations

from fixtures_identity import identity_auth
from identity_rig import admitted, refusal
from service_rig import AGENTS, Rig, running_service

AGENT1, AGENT2 = AGENTS
SESSION = {"kind": "session"}


async def test_gws_session_cookie_admits_the_agent_on_its_dn(identity_bridge: Rig) -> None:
    rig = identity_bridge
    cookie = await rig.sign_in(AGENT1)
    frames = await admitted(await rig.hello("5001", SESSION, cookie=cookie))
    assert [f["type"] for f in frames] == ["sip_credentials", "snapshot"]
    assert rig.components.verifier.session.lookups == 1  # type: ignore[union-attr]


async def test_no_cookie_a_stranger_cookie_or_another_agents_dn(identity_bridge: Rig) -> None:
    rig = identity_bridge
    cookie = await rig.sign_in(AGENT1)
    assert await refusal(await rig.hello("5001", SESSION)) == (4401, "invalid")
    assert await refusal(await rig.hello("5001", SESSION, cookie="0123ABCD")) == (4401, "session_expired")
    assert await refusal(await rig.hello(AGENT2.dn, SESSION, cookie=cookie)) == (4403, "dn_not_allowed")


async def test_an_expired_gws_session_is_refused_4401(identity_bridge: Rig) -> None:
    rig = identity_bridge
    cookie = await rig.sign_in(AGENT1)
    await admitted(await rig.hello("5001", SESSION, cookie=cookie))
    rig.gws.expire_session(AGENT1.username)
    assert await refusal(await rig.hello("5001", SESSION, cookie=cookie)) == (4401, "session_expired")
    assert rig.components.hub.stats.refusals == {"session_expired": 1}


async def test_answers_are_cached_briefly() -> None:
    async with running_service(auth=lambda gws: {**identity_auth()(gws), "session": {"cache_s": 60}},
                               wait_ready=False) as rig:
        cookie = await rig.sign_in(AGENT1)
        for _ in range(3):
            await admitted(await rig.hello("5001", SESSION, cookie=cookie))
        assert rig.components.verifier.session.lookups == 1  # type: ignore[union-attr]


async def test_gws_unreachable_or_failing_is_4503(identity_bridge: Rig) -> None:
    rig = identity_bridge
    cookie = await rig.sign_in(AGENT1)
    rig.gws.fail_next(500, endpoint="me")
    assert await refusal(await rig.hello("5001", SESSION, cookie=cookie)) == (4503, "identity_unavailable")
    await rig.gws.stop()
    assert await refusal(await rig.hello("5001", SESSION, cookie=cookie)) == (4503, "identity_unavailable")
    assert rig.components.hub.stats.refusals == {"identity_unavailable": 2}


async def test_a_kind_the_bridge_does_not_enable_is_invalid() -> None:
    async with running_service(wait_ready=False) as rig:  # hmac only
        cookie = await rig.sign_in(AGENT1)
        assert await refusal(await rig.hello("5001", SESSION, cookie=cookie)) == (4401, "invalid")
        token = await rig.wwe_jwt(cookie)
        assert await refusal(await rig.hello("5001", {"kind": "jwt", "token": token})) == (4401, "invalid")
