"""The widget against the real bridge: the service's ``build`` + ``create_app`` (in-memory store)
fed by the GWS simulator and the AMI simulator, calls played by the scenario runner. The panel
renders a correlated call, its buttons follow ``actions``, Hold goes through the bridge to both
simulators and comes back confirmed, and a bridge restart shows "reconnecting" and brings the
call back."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import Answer, InboundCall

from .bridge_service import HOST, AmiLogin, Bridge, bridge_settings
from .conftest import free_port
from .widget_server import sign_in

pytestmark = pytest.mark.browser

DNS = ("5001", "5002")


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[tuple[Bridge, ScenarioRunner]]:
    gws = GwsSimulator([SimAgent(f"agent{dn}", secrets.token_hex(8), dn) for dn in DNS])
    await gws.start(HOST)
    ami = AmiSimulator(agent_dns=frozenset(DNS), secret=secrets.token_hex(8))
    await ami.start(HOST)
    port = free_port()
    login = AmiLogin(ami.port, ami.username, ami.secret)
    bridge = Bridge(bridge_settings(port, login, gws, tmp_path / "events.jsonl"), gws, port)
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
    await page.goto(bridge.widget_url("5001", dataKeys="Segment,Language"))
    await sign_in(page, bridge.token("5001"))
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
