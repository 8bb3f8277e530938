"""Fixtures for the service tests (helpers in webharness.py): a GWS simulator, bridge instances
that are all stopped after the test, and a closed AMI port."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from webharness import AGENTS, Bridge, BridgeFactory, settings_for

from ctibridge.service.assemble import build
from ctibridge.sim.gws import Advice, GwsSimulator
from ctibridge.web.app import create_app
from ctibridge.web.serve import ssl_context
from tools.local_services import free_port


@pytest.fixture
async def gws_sim() -> AsyncIterator[GwsSimulator]:
    sim = GwsSimulator(AGENTS, advice=Advice(timeout_ms=1500, interval_ms=0))
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def bridge_factory(gws_sim: GwsSimulator) -> AsyncIterator[BridgeFactory]:
    """``await bridge_factory(ami_port=..., client_ssl=None, **sections)``: a started bridge (HTTPS
    when ``sections`` configure tls; ``client_ssl`` then trusts its certificate); all are stopped
    after the test."""
    bridges: list[Bridge] = []

    async def make(*, ami_port: int, client_ssl: ssl.SSLContext | None = None,
                   **sections: dict[str, Any]) -> Bridge:
        settings = settings_for(gws_sim.base_url, ami_port=ami_port, **sections)
        components = build(settings)
        server = TestServer(create_app(settings, components=components), host="127.0.0.1", port=0)
        await server.start_server(ssl=ssl_context(settings))
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl) if client_ssl else None)
        bridge = Bridge(settings, components, server, http)
        bridges.append(bridge)
        return bridge

    yield make
    for bridge in reversed(bridges):
        await bridge.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (an AMI that is down)."""
    return free_port()
