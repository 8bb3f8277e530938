"""``gws.follow = "session"``: no agent password in the bridge's configuration. The bridge follows
an agent's Genesys events with the agent's own session (its GWS cookie, or its WWE JWT as bearer)
while the agent's widget is connected, plus a linger; then the DN's Genesys link is ``stopped``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fixtures_identity import identity_auth
from identity_rig import admitted
from service_rig import AGENTS, WITHIN, Rig, running_service

from ctibridge.config import Settings

AGENT1 = AGENTS[0]
LINGER_S = 0.3


async def until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WITHIN}s: {what}")
        await asyncio.sleep(0.02)


def session_mode(**jwt_options: Any) -> dict[str, Any]:
    return {"gws": {"agents": [], "follow": "session", "linger_s": LINGER_S},
            "auth": identity_auth(**jwt_options)}


async def sees_calls_while_connected_then_stops(rig: Rig, credential: dict[str, str], cookie: str) -> None:
    ws = await rig.hello("5001", credential, cookie=cookie)
    await admitted(ws)
    await until(lambda: rig.gws.subscribed("5001"), "the bridge following agent1 with its own session")
    call = rig.gws.call_ringing("5001", ani="+15550001234")
    while True:  # the Genesys call reaches the widget through the agent's own session
        frame = await ws.receive_json(timeout=WITHIN)
        if frame["type"] == "delta" and (frame["call"]["genesys"] or {}).get("call_id") == call:
            break
    await ws.close()
    gws = rig.components.role.sources.gws
    assert gws is not None and "agent1" in gws.sessions  # lingering
    await until(lambda: "agent1" not in gws.sessions, "the session stopped after the linger")
    await until(lambda: rig.components.pipeline.links.get("gws:5001") == "stopped", "the DN's link stopped")


async def test_follows_with_the_agents_gws_cookie_while_its_widget_is_connected() -> None:
    async with running_service(wait_ready=False, **session_mode()) as rig:
        cookie = await rig.sign_in(AGENT1)
        await sees_calls_while_connected_then_stops(rig, {"kind": "session"}, cookie)


async def test_follows_with_the_wwe_jwt_as_bearer() -> None:
    async with running_service(wait_ready=False, **session_mode(bearer_for_gws=True)) as rig:
        token = await rig.wwe_jwt(await rig.sign_in(AGENT1))
        await sees_calls_while_connected_then_stops(rig, {"kind": "jwt", "token": token}, "")


async def test_a_widget_back_within_the_linger_keeps_the_session() -> None:
    async with running_service(wait_ready=False, **session_mode()) as rig:
        cookie = await rig.sign_in(AGENT1)
        first = await rig.hello("5001", {"kind": "session"}, cookie=cookie)
        await admitted(first)
        gws = rig.components.role.sources.gws
        assert gws is not None
        session = gws.sessions["agent1"]
        await first.close()
        second = await rig.hello("5001", {"kind": "session"}, cookie=cookie)
        await admitted(second)
        await asyncio.sleep(LINGER_S * 2)  # past the linger of the first widget: a time-based promise
        assert gws.sessions.get("agent1") is session
        await second.close()


def test_session_mode_refuses_agent_passwords_and_needs_an_inherited_credential() -> None:
    base = {"ami": {"username": "u", "secret": "s"}, "auth": {"token_secret": "x" * 16}}
    with pytest.raises(ValueError, match="holds no agent passwords"):
        Settings.model_validate({**base, "gws": {"base_url": "http://127.0.0.1:1", "follow": "session",
                                                 "agents": [{"agent_id": "a", "username": "a",
                                                             "password": "p", "dn": "5001"}]}})
    with pytest.raises(ValueError, match="no widget hands the bridge a session"):
        Settings.model_validate({**base, "gws": {"base_url": "http://127.0.0.1:1", "follow": "session"}})
