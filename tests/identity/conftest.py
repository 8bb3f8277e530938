"""Identity fixtures: the real service in front of the GWS simulator, which is also the agents'
identity provider (session cookies, ``GET /api/v2/me``, RS256 JWTs and their JWKS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from service_rig import WITHIN, Rig, running_service

from ctibridge.sim.gws import GwsSimulator
from ctibridge.sim.gws.auth import bridge_jwt_section

WEBRTC_SECRET = "identity-webrtc-secret-7d41c0"


def identity_auth(**jwt_options: Any) -> Any:
    def auth(gws: GwsSimulator) -> dict[str, Any]:
        return {"verifiers": ["hmac", "jwt", "session"], "jwt": bridge_jwt_section(gws, **jwt_options),
                "session": {"cache_s": 0}, "sip": {"webrtc_secret": WEBRTC_SECRET}}
    return auth


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """Every verifier on; session answers are not cached, so an expired session shows at once."""
    async with running_service(auth=identity_auth(), wait_ready=False) as running:
        yield running


async def refusal(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, str]:
    """The close code and reason the widget gets (no frame may come before it)."""
    msg = await ws.receive(timeout=WITHIN)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    return int(msg.data), str(msg.extra)


async def admitted(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The frames up to and with the snapshot."""
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != "snapshot":
        msg = await ws.receive(timeout=WITHIN)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg, ws.close_code)
        frames.append(msg.json())
    return frames
