"""Fixtures of the Genesys lab tests: the real Asterisk 22 sandbox (tests/fixtures_asterisk.py),
the lab around it (registrar, SIP Server stand-in, GWS simulator with one agent per DN) and a
bridge following both, built like tests/web builds one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fixtures_asterisk import LabAsterisk
from web.webharness import Bridge, settings_for, until

from ctibridge.service.assemble import build
from ctibridge.sim.gws import Advice, GwsSimulator, SimAgent
from ctibridge.sim.sipserver.lab import GenesysLab, genesys_lab
from ctibridge.web.app import create_app

AGENTS = [SimAgent(f"agent{dn}", f"gws-pass-{dn}-lab", dn) for dn in ("5001", "5002", "5003", "5004")]
WITHIN = 15.0


@pytest.fixture
async def lab(asterisk: LabAsterisk, tmp_path: Path) -> AsyncIterator[GenesysLab]:
    gws = GwsSimulator(AGENTS, advice=Advice(timeout_ms=1500, interval_ms=0))
    await gws.start()
    try:
        async with genesys_lab(tmp_path, asterisk=asterisk.settings, gws=gws, registrar_expires_s=20,
                               talk_s=None, ring_timeout_s=8.0, trunk_engines=2) as running:
            asterisk.sandbox.cli("pjsip send register *all")  # now, not after its 60 s retry
            yield running
            await asterisk.clean()  # BYEs to the lab's legs while they still exist
    finally:
        await gws.stop()


@pytest.fixture
async def bridge(lab: GenesysLab, asterisk: LabAsterisk) -> AsyncIterator[Bridge]:
    """A bridge on the lab's GWS simulator and the sandbox's AMI, every agent DN configured."""
    agents = [{"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
              for a in AGENTS]
    settings = settings_for(lab.gws.base_url, ami_port=asterisk.ami_port,
                            ami={"secret": asterisk.ami_secret}, gws={"agents": agents})
    components = build(settings)
    server = TestServer(create_app(settings, components=components), host="127.0.0.1", port=0)
    await server.start_server()
    running = Bridge(settings, components, server, aiohttp.ClientSession())
    try:
        ami = await until(lambda: components.role.sources.ami, what="AMI client")
        await ami.wait_ready(WITHIN)
        for agent in AGENTS:
            await until(lambda dn=agent.dn: lab.gws.subscribed(dn), within=WITHIN, what=f"GWS {agent.dn}")
        yield running
    finally:
        await running.stop()
