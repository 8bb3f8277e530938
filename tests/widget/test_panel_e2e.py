"""The widget against the real bridge: the service's ``build`` + ``create_app`` (in-memory store)
fed by the GWS simulator and the AMI simulator, calls played by the scenario runner. The panel
renders a correlated call, its buttons follow ``actions``, Hold goes through the bridge to both
simulators and comes back confirmed, and a bridge restart shows "reconnecting" and brings the
call back."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from ctibridge.config import Settings
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import Answer, InboundCall
from ctibridge.web.app import create_app
from ctibridge.web.auth import mint
from ctibridge.web.keys import Components
from ctibridge.web.service import build

pytestmark = pytest.mark.browser

HOST = "127.0.0.1"
DNS = ("5001", "5002")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "widget-established.png"


def bridge_settings(port: int, ami: AmiSimulator, gws: GwsSimulator, event_log: Path) -> Settings:
    """What the service needs to follow the two simulators, serving the widget on ``port``."""
    return Settings.model_validate({
        "listen": {"host": HOST, "port": port},
        "ami": {"host": HOST, "port": ami.port, "username": ami.username, "secret": ami.secret,
                "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "gws": {"base_url": gws.base_url, "agents": [
            {"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
            for a in gws.agents.values()]},
        "gateway": {"dns": list(DNS)},
        "auth": {"token_secret": secrets.token_urlsafe(32), "allowed_origins": [f"http://{HOST}:{port}"]},
        "log": {"event_log": str(event_log)},
    })


async def until_connected(components: Components, gws: GwsSimulator) -> None:
    """AMI resynchronised and every agent's GWS subscription up (no event says so: poll, bounded)."""
    async with asyncio.timeout(15):
        while components.pipeline.links.get("ami") != "connected" or not all(  # noqa: ASYNC110
                gws.subscribed(dn) for dn in DNS):
            await asyncio.sleep(0.05)


class Bridge:
    """The bridge service on a fixed port, restartable (a restart loses its in-memory state:
    the widget gets a new epoch and the call back from the AMI resync and the GWS re-read)."""

    def __init__(self, settings: Settings, gws: GwsSimulator, port: int) -> None:
        self.settings, self.gws, self.port = settings, gws, port
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        components = build(self.settings)
        self.runner = web.AppRunner(create_app(self.settings, components=components), shutdown_timeout=1.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, HOST, self.port, reuse_address=True).start()
        await until_connected(components, self.gws)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def widget_url(self, dn: str) -> str:
        token = mint(self.settings.auth.secret_bytes, f"agent{dn}", [dn], 3600, time.time())
        return f"http://{HOST}:{self.port}/widget/?dn={dn}&token={token}&dataKeys=Segment,Language"


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[tuple[Bridge, ScenarioRunner]]:
    gws = GwsSimulator([SimAgent(f"agent{dn}", secrets.token_hex(8), dn) for dn in DNS])
    await gws.start(HOST)
    ami = AmiSimulator(agent_dns=frozenset(DNS), secret=secrets.token_hex(8))
    await ami.start(HOST)
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    bridge = Bridge(bridge_settings(port, ami, gws, tmp_path / "events.jsonl"), gws, port)
    try:
        await bridge.start()
        for dn in DNS:
            gws.set_agent_state(dn, "Ready")
        yield bridge, ScenarioRunner(gws, ami)
    finally:
        await bridge.stop()
        await ami.stop()
        await gws.stop()


async def established_call(page: Page, bridge: Bridge, runner: ScenarioRunner) -> None:
    await page.goto(bridge.widget_url("5001"))
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "live")
    await runner.apply(InboundCall(at=0, kind="inbound_call", call="c1", dn="5001", caller="+15550001000",
                                   caller_name="José Müller",
                                   user_data={"Segment": "Gold", "Language": "de"}))
    card = page.locator("article[data-call-id]")
    await expect(card).to_have_attribute("data-state", "ringing")
    await runner.apply(Answer(at=0, kind="answer", call="c1"))
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card).to_have_attribute("data-sync", "ok")


async def test_panel_holds_and_retrieves_a_correlated_call(
    page: Page, scene: tuple[Bridge, ScenarioRunner],
) -> None:
    bridge, runner = scene
    await established_call(page, bridge, runner)
    card = page.locator("article[data-call-id]")
    await expect(card.locator(".who")).to_have_text("José Müller +15550001000")
    facts = await card.locator(".facts").inner_text()
    assert "Segment\nGold" in facts and "Language\nde" in facts
    await expect(card.locator(".sync")).to_have_text("Sync ok Genesys Established · Asterisk up")
    await expect(card.get_by_role("button", name="Hold")).to_be_visible()
    await page.screenshot(path=str(DOCS_SCREENSHOT))

    await card.get_by_role("button", name="Hold").click()
    await expect(card.locator(".result")).to_contain_text("Hold: confirmed")
    await expect(card).to_have_attribute("data-state", "held")
    await expect(card.get_by_role("button", name="Retrieve")).to_be_visible()
    await expect(card.get_by_role("button", name="Hold")).to_have_count(0)

    await card.get_by_role("button", name="Retrieve").click()
    await expect(card.locator(".result")).to_contain_text("Retrieve: confirmed")
    await expect(card).to_have_attribute("data-state", "established")


async def test_bridge_restart_reconnects_and_keeps_the_call(
    page: Page, scene: tuple[Bridge, ScenarioRunner],
) -> None:
    bridge, runner = scene
    await established_call(page, bridge, runner)
    call_id = await page.locator("article[data-call-id]").get_attribute("data-call-id")

    await bridge.stop()
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "reconnecting")
    await expect(page.locator(f'article[data-call-id="{call_id}"]')).to_be_visible()  # kept meanwhile
    await bridge.start()
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "live", timeout=15000)
    card = page.locator("article[data-call-id]")
    await expect(card).to_have_count(1)
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card.get_by_role("button", name="Hold")).to_be_visible()
