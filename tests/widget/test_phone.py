"""The SIP.js phone in Chromium against the real Asterisk 22 sandbox: register 5001 over
ws://127.0.0.1:8088/ws, ring on a call from sipp playing Genesys, answer from the widget, media
flowing (ICE and DTLS connected, RTP growing both ways), far-end hang-up back to idle.

sipp sends no RTP of its own, so the inbound audio is the gateway's hold music: Genesys holds the
call (sendonly re-INVITE) and Asterisk plays music on hold to the agent leg over DTLS-SRTP."""

from __future__ import annotations

import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import Locator, Page, expect

from ctibridge.hub.protocol import DeltaMessage, SnapshotMessage
from ctibridge.sim.sipp import Sipp

from .conftest import SCREENSHOTS, WidgetServer
from .widget_server import PeerConnection, call_view, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

ASTERISK_WS = "ws://127.0.0.1:8088/ws"
CALL_UUID = "G2BL4WIDGETTEST0000000000000001"


async def signed_in_phone(page: Page, server: WidgetServer, password: str, **query: str) -> PeerConnection:
    """The widget signs in to the (scripted) bridge, which answers its hello with the DN's SIP
    credentials: the only way the phone learns its password."""
    await page.goto(server.url(dn="5001", sipDomain="127.0.0.1", **query))
    await expect(page.locator("#phone-status")).to_have_text("Phone off: waiting for sign-in")
    await sign_in(page, "tok")
    conn = await server.peer.accept()
    await conn.recv_type("hello")
    await conn.send_sip_credentials("5001", password, ASTERISK_WS)
    return conn


async def growing(media: Locator, attribute: str) -> None:
    """The byte counter behind ``attribute`` rises above zero and then again."""
    await expect(media).not_to_have_attribute(attribute, "0", timeout=8000)
    first = await media.get_attribute(attribute)
    await expect(media).not_to_have_attribute(attribute, first or "0")
    assert int(await media.get_attribute(attribute) or 0) > int(first or 0)


async def test_phone_answers_a_genesys_call_with_media(
    page: Page, widget_server: WidgetServer, asterisk: LabAsterisk, sipp: Sipp,
) -> None:
    await signed_in_phone(page, widget_server, asterisk.settings.password("5001"))
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
    mute = card.get_by_role("button", name="Mute")
    await mute.click()
    await expect(card.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
    await page.screenshot(path=str(SCREENSHOTS / "phone-established.png"))

    result = await call.wait(15)
    assert result.ok, result.errors
    await expect(card).to_have_count(0)
    await expect(page.locator(".no-calls")).to_be_visible()
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")


async def test_panel_answer_answers_the_linked_phone_session(
    page: Page, widget_server: WidgetServer, asterisk: LabAsterisk, sipp: Sipp,
) -> None:
    """The bridge's call and the SIP.js session share the X-Genesys-CallUUID: one card, and its
    Answer is the local 200 OK (no protocol action); the card then shows the call's audio."""
    conn = await signed_in_phone(page, widget_server, asterisk.settings.password("5001"))
    await conn.send(SnapshotMessage(dn="5001", epoch="e1", seq=1, calls=[]))
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")

    call = await sipp.genesys_call("5001", CALL_UUID, flow="hold", pause_ms=2500)
    await expect(page.locator(f'article[data-phone-key="{CALL_UUID}"]')).to_be_visible()
    ringing = call_view(state="ringing", call_uuid=CALL_UUID, actions=["answer", "hangup"])
    await conn.send(DeltaMessage(dn="5001", seq=2, op="created", call=ringing, t=0.0))
    card = page.locator("article")
    await expect(card).to_have_count(1)  # the phone session joined the bridge's card
    await expect(card).to_have_attribute("data-call-id", "5001-3")

    await card.get_by_role("button", name="Answer").click()
    await expect(card.locator(".result")).to_have_text("Answer: answered — on this phone")
    await conn.send(DeltaMessage(dn="5001", seq=3, op="updated", call=call_view(call_uuid=CALL_UUID), t=0.0))
    media = card.locator(".media")
    await expect(media).to_have_attribute("data-ice", "connected")
    await growing(media, "data-in-bytes")
    await page.screenshot(path=str(SCREENSHOTS / "linked-established.png"))
    with pytest.raises(TimeoutError):
        await conn.recv_type("action", within=0.5)  # answered here, not through the bridge
    assert (await call.wait(15)).ok


async def test_wrong_sip_password_is_explained(page: Page, widget_server: WidgetServer,
                                               asterisk: LabAsterisk) -> None:
    """The bridge's ws_servers null means the widget's configured Asterisk WebSocket."""
    await page.goto(widget_server.url(dn="5001", asteriskUrl=ASTERISK_WS, sipDomain="127.0.0.1"))
    await sign_in(page, "tok")
    conn = await widget_server.peer.accept()
    await conn.recv_type("hello")
    await conn.send_sip_credentials("5001", "wrong", None)
    await expect(page.locator('.alert[data-error="sip_refused"]')).to_have_text(
        "Phone registration of 5001 refused by the phone server.")
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "refused")


async def test_phone_registers_again_after_asterisk_comes_back(
    page: Page, widget_server: WidgetServer, asterisk: LabAsterisk,
) -> None:
    await signed_in_phone(page, widget_server, asterisk.settings.password("5001"))
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")
    await asterisk.sandbox.stop()
    await expect(page.locator('.alert[data-error="asterisk_unreachable"]')).to_be_visible()
    await asterisk.clean()  # starts the stopped Asterisk again
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered", timeout=15000)
    await expect(page.locator('.alert[data-error="asterisk_unreachable"]')).to_have_count(0)


async def test_phone_dials_out_and_hangs_up(
    page: Page, widget_server: WidgetServer, asterisk: LabAsterisk, sipp: Sipp,
) -> None:
    await signed_in_phone(page, widget_server, asterisk.settings.password("5001"))
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")
    genesys = await sipp.genesys_answer(pause_ms=200)
    await page.get_by_label("Number to call").fill("5550002000")
    await page.keyboard.press("Enter")
    card = page.locator("article[data-phone-key]")
    await expect(card.locator(".who")).to_have_text("5550002000")
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card.locator(".media")).to_have_attribute("data-ice", "connected")
    await card.get_by_role("button", name="Hang up").click()
    await expect(card).to_have_count(0)
    assert (await genesys.wait(10)).ok  # it saw the BYE
