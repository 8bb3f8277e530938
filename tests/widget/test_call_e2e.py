"""Everything real at once: the SIP.js phone registered on the Asterisk 22 sandbox, the bridge
service following that Asterisk's AMI and the GWS simulator, and sipp playing the Genesys SIP
Server (the simulator reports what SIP Server would, from the gateway's AMI events:
``ctibridge.sim.lab_gateway.GenesysMirror``). One card is the bridge's correlated call and the
phone's audio at once; its Answer is the phone's 200 OK; Genesys holds and retrieves; the customer
hangs up."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import Page, expect
from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.lab_gateway import GenesysMirror
from ctibridge.sim.sipp import Sipp
from tools.local_services import LAB_WEBRTC_SECRET

from .bridge_service import HOST, AmiLogin, Bridge, bridge_settings
from .conftest import SCREENSHOTS, free_port
from .test_phone import ASTERISK_WS, CALL_UUID, growing
from .widget_server import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

DN = "5001"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "widget-established.png"


@pytest.fixture
async def bridge(asterisk: LabAsterisk, tmp_path: Path) -> AsyncIterator[Bridge]:
    gws = GwsSimulator([SimAgent(f"agent{DN}", secrets.token_hex(8), DN)])
    await gws.start(HOST)
    login = AmiLogin(asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
    mirror = GenesysMirror(gws)
    ami_settings = AmiSettings(port=login.port, username=login.username, secret=SecretStr(login.secret))
    sip_server = AmiClient(ami_settings, on_message=mirror.on_ami, on_link=lambda *_: None)
    port = free_port()
    settings = bridge_settings(port, login, gws, tmp_path / "events.jsonl", webrtc_secret=LAB_WEBRTC_SECRET)
    service = Bridge(settings, gws, port)
    try:
        await sip_server.start(timeout_s=10)
        await service.start()
        gws.set_agent_state(DN, "Ready")
        yield service
    finally:
        await service.stop()
        await sip_server.close()
        await gws.stop()


async def test_answered_call_is_one_card_with_genesys_data_and_audio(
    page: Page, bridge: Bridge, asterisk: LabAsterisk, sipp: Sipp,
) -> None:
    await page.goto(bridge.widget_url(DN, asteriskUrl=ASTERISK_WS, sipDomain="127.0.0.1",
                                      dataKeys="Segment,Language"))
    await sign_in(page, bridge.token(DN))  # the bridge then sends the DN's SIP credentials
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "live")
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")

    call = await sipp.genesys_call(DN, CALL_UUID, flow="hold", pause_ms=2500, caller="+15550001000")
    card = page.locator(f'article[data-call-uuid="{CALL_UUID}"]')
    await expect(card).to_have_attribute("data-state", "ringing")
    (gws_call,) = bridge.gws.calls_of(DN)
    bridge.gws.attach_user_data(gws_call.id, {"Segment": "Gold", "Language": "de"})
    await expect(page.locator("article")).to_have_count(1)  # the phone's session is that card

    await card.get_by_role("button", name="Answer").click()
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card.locator(".media")).to_have_attribute("data-ice", "connected")
    await expect(card).to_have_attribute("data-state", "held", timeout=8000)  # Genesys holds
    await growing(card.locator(".media"), "data-in-bytes")  # hold music over DTLS-SRTP
    await expect(card).to_have_attribute("data-state", "established", timeout=8000)  # and retrieves
    await expect(card).to_have_attribute("data-sync", "ok")
    facts = await card.locator(".facts").inner_text()
    assert "Segment\nGold" in facts and "Language\nde" in facts
    await expect(card.locator(".sync")).to_contain_text("Genesys Established · Asterisk up")
    await page.screenshot(path=str(SCREENSHOTS / "call-e2e-established.png"))
    if os.environ.get("CTIBRIDGE_UPDATE_DOCS"):  # refresh the README's picture on purpose only
        await page.screenshot(path=str(DOCS_SCREENSHOT))

    assert (await call.wait(15)).ok
    await expect(page.locator("article")).to_have_count(0, timeout=10000)
