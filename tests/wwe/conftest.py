"""The WWE stand-in (ctibridge/sim/wwe, served by the GWS simulator at /ui/wwe/) in Debian's
Chromium, hosting web content from the widget test server (another origin, as in production). The
simulator plays Genesys Authentication: the stand-in's auth.getJwtToken answers with its RS256 JWTs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from widget.conftest import browser, chromium_args, page, widget_server  # noqa: F401  (shared fixtures)

from ctibridge.sim.gws import GwsSimulator, SimAgent

DN = "5001"


@pytest.fixture
async def gws() -> AsyncIterator[GwsSimulator]:
    sim = GwsSimulator([SimAgent(f"agent{DN}", secrets.token_hex(8), DN)])
    await sim.start("127.0.0.1")
    yield sim
    await sim.stop()
