"""pytest plugin (loaded by tests/conftest.py): the real service with every identity verifier on.

``identity_bridge`` -> ``service_rig.Rig``: the service (hmac, jwt and session verifiers; the SIP
login of ``WEBRTC_SECRET`` for verified widgets) in front of the GWS simulator, which is also the
agents' identity provider (session cookies, ``GET /api/v2/me``, RS256 JWTs and their JWKS).
``identity_auth(**jwt_options)`` is that ``[auth]`` section, for tests that start their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from service_rig import Rig, running_service

from ctibridge.sim.gws import GwsSimulator
from ctibridge.sim.gws.auth import bridge_jwt_section

WEBRTC_SECRET = "identity-webrtc-secret-7d41c0"


def identity_auth(**jwt_options: Any) -> Any:
    def auth(gws: GwsSimulator) -> dict[str, Any]:
        return {"verifiers": ["hmac", "jwt", "session"], "jwt": bridge_jwt_section(gws, **jwt_options),
                "session": {"cache_s": 0}, "sip": {"webrtc_secret": WEBRTC_SECRET}}
    return auth


@pytest.fixture
async def identity_bridge() -> AsyncIterator[Rig]:
    """Every verifier on; session answers are not cached, so an expired session shows at once."""
    async with running_service(auth=identity_auth(), wait_ready=False) as running:
        yield running
