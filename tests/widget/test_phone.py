"""The SIP.js phone in Chromium against the real Asterisk 22 sandbox: register 5001 over
ws://127.0.0.1:8088/ws, ring on a call from sipp playing Genesys, answer from the widget, media
flowing (ICE and DTLS connected, RTP growing both ways), far-end hang-up back to idle.

sipp sends no RTP of its own, so the inbound audio is the gateway's hold music: Genesys holds the
call (sendonly re-INVITE) and Asterisk plays music on hold to the agent leg over DTLS-SRTP."""

from __future__ import annotations

import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import Locator, Page, expect

from ctibridge.sim.sipp import Sipp

from .conftest import SCREENSHOTS, WidgetServer

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

ASTERISK_WS = "ws://127.0.0.1:8088/ws"
CALL_UUID = "G2BL4WIDGETTEST0000000000000001"


def phone_url(server: WidgetServer, asterisk: LabAsterisk) -> str:
    password = asterisk.settings.password("5001")
    return server.url(dn="5001", sipPassword=password, asteriskUrl=ASTERISK_WS, sipDomain="127.0.0.1")


async def growing(media: Locator, attribute: str) -> None:
    """The byte counter behind ``attribute`` rises above zero and then again."""
    await expect(media).not_to_have_attribute(attribute, "0", timeout=8000)
    first = await media.get_attribute(attribute)
    await expect(media).not_to_have_attribute(attribute, first or "0")
    assert int(await media.get_attribute(attribute) or 0) > int(first or 0)


async def test_phone_answers_a_genesys_call_with_media(
    page: Page, widget_server: WidgetServer, asterisk: LabAsterisk, sipp: Sipp,
) -> None:
    await page.goto(phone_url(widget_server, asterisk))
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")

    call = await sipp.genesys_call("5001", CALL_UUID, flow="hold", pause_ms=3000)
    card = page.locator(f'article[data-phone-key="{CALL_UUID}"]')
    await expect(card).to_have_attribute("data-state", "ringing")
    await expect(card.locator(".who")).to_have_text("Customer 0611223344")
    await card.get_by_role("button", name="Answer").click()

    await expect(card).to_have_attribute("data-state", "established")
    media = card.locator(".media")
    await expect(media).to_have_attribute("data-ice", "connected")
    await expect(media).to_have_attribute("data-dtls", "connected")
    await growing(media, "data-out-bytes")  # the fake microphone toward Asterisk
    await growing(media, "data-in-bytes")  # hold music from Asterisk once Genesys holds
    await page.screenshot(path=str(SCREENSHOTS / "phone-established.png"))

    result = await call.wait(15)
    assert result.ok, result.errors
    await expect(card).to_have_count(0)
    await expect(page.locator(".no-calls")).to_be_visible()
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")
