"""The WWE stand-in (ctibridge/sim/wwe, served by the GWS simulator at /ui/wwe/) in Debian's
Chromium, hosting web content from the widget test server (another origin, as in production)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from widget.conftest import browser, chromium_args, page, widget_server  # noqa: F401  (shared fixtures)

from ctibridge.sim.gws import GwsSimulator, SimAgent

DN = "5001"
JWT_PATH = "/auth/v3/jwt"  # ctibridge/sim/wwe/static/gws.js JWT_PATH


class GwsWithJwt(GwsSimulator):
    """Until the simulator plays Genesys Authentication (RS256 JWTs + JWKS), an opaque token per
    logged-in agent at the stand-in's JWT_PATH: the widget must hand it on unchanged."""

    def __init__(self, agents: list[SimAgent]) -> None:
        super().__init__(agents)
        self.issued: dict[str, str] = {}

    def app(self) -> web.Application:
        app = super().app()

        async def jwt(request: web.Request) -> web.Response:
            agent = self.authorized(request, csrf=False)
            token = self.issued.setdefault(agent.username, secrets.token_urlsafe(24))
            return web.json_response({"token": token})

        app.router.add_get(JWT_PATH, jwt)
        return app


@pytest.fixture
async def gws() -> AsyncIterator[GwsWithJwt]:
    sim = GwsWithJwt([SimAgent(f"agent{DN}", secrets.token_hex(8), DN)])
    await sim.start("127.0.0.1")
    yield sim
    await sim.stop()
