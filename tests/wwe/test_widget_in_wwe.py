"""The ctibridge widget as WWE web content: it learns the agent and DN from the stand-in's
Service Client API (agent.get), signs in to the bridge with WWE's JWT (auth.getJwtToken), sends
the agent's CTI commands through WWE, and registers its phone on the real Asterisk with the SIP
credentials the bridge sends. No URL carries a secret: the widget's URL comes from
``ctibridge wwe-options`` and the test checks it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import FrameLocator, Page, expect
from widget.conftest import WidgetServer
from widget.widget_server import PeerConnection, call_view

from ctibridge.gateway.wwe_options import wwe_options
from ctibridge.hub.protocol import ActionResult, SnapshotMessage
from ctibridge.sim.gws import GwsSimulator
from ctibridge.sim.sipp import Sipp

from .conftest import DN
from .desk import log_in

pytestmark = pytest.mark.browser

ASTERISK_WS = "ws://127.0.0.1:8088/ws"
CALL_UUID = "G2BL4WWEWIDGET00000000000000001"


async def widget_in_wwe(
    page: Page, widget_server: WidgetServer, gws: GwsSimulator,
) -> tuple[FrameLocator, PeerConnection]:
    """The agent logs in to the stand-in hosting the widget; returns the widget frame and the
    widget's bridge connection once its hello arrived (checked against the contract)."""
    options = wwe_options(f"{widget_server.origin}/widget/index.html", [gws.base_url], label="Phone")
    url = options["CtiBridgePhone"]["url"]
    assert set(parse_qs(urlsplit(url).query)) == {"wweOrigins"}  # nothing else, and no secret
    gws.wwe_options = options
    await log_in(page, gws)
    widget = page.frame_locator('iframe[title="Phone"]')
    conn = await widget_server.peer.accept(within=20.0)  # the frame loads SIP.js's ~70 modules first
    hello = await conn.recv_type("hello")
    credential = hello.pop("credential")
    assert hello == {"type": "hello", "dn": DN} and credential["kind"] == "jwt"
    assert gws.issuer.agent_of(credential["token"]) == f"agent{DN}"  # the issuer's JWT for this agent
    return widget, conn


async def test_widget_signs_in_with_wwe_and_commands_go_through_wwe(
    page: Page, widget_server: WidgetServer, gws: GwsSimulator,
) -> None:
    widget, conn = await widget_in_wwe(page, widget_server, gws)
    call_id = gws.call_ringing(DN, call_uuid=CALL_UUID, ani="+15550001000")
    gws.set_state(call_id, "Established")
    await expect(page.locator(f'li[data-call-id="{call_id}"]')).to_have_attribute("data-state", "Established")
    await conn.send(SnapshotMessage(dn=DN, epoch="e1", seq=1, calls=[
        call_view("5001-1", call_uuid=CALL_UUID, actions=["hangup", "hold", "dtmf"])]))
    card = widget.locator('article[data-call-id="5001-1"]')
    await card.get_by_role("button", name="Hold").click()
    await expect(card.locator(".result")).to_have_text("Hold: requested — through Workspace")
    await expect(page.locator(f'li[data-call-id="{call_id}"]')).to_have_attribute("data-state", "Held")
    assert [(op.call_id, op.name) for op in gws.operations] == [(call_id, "Hold")]
    with pytest.raises(TimeoutError):
        await conn.recv_type("action", within=0.5)  # WWE did it, not the bridge

    await card.get_by_role("button", name="Keypad").click()  # no WWE request for DTMF: the bridge's
    await card.get_by_role("button", name="DTMF 5").click()
    action = await conn.recv_type("action")
    assert (action["action"], action["params"]) == ("dtmf", {"digits": "5"})
    await conn.send(ActionResult(id=action["id"], ok=True, outcome="confirmed"))


@pytest.mark.asterisk
async def test_widget_in_wwe_registers_with_the_bridges_sip_credentials_and_answers(
    page: Page, widget_server: WidgetServer, gws: GwsSimulator, asterisk: LabAsterisk, sipp: Sipp,
) -> None:
    widget, conn = await widget_in_wwe(page, widget_server, gws)
    phone = widget.locator("#phone-status")
    await expect(phone).to_have_text("Phone off: waiting for sign-in")
    await conn.send(SnapshotMessage(dn=DN, epoch="e1", seq=1, calls=[]))
    await conn.send_sip_credentials(DN, asterisk.settings.password(DN), ASTERISK_WS)
    await expect(phone).to_have_attribute("data-status", "registered")
    await expect(phone).to_have_text(f"Phone {DN}")

    call = await sipp.genesys_call(DN, CALL_UUID, flow="hold", pause_ms=3000)
    card = widget.locator(f'article[data-phone-key="{CALL_UUID}"]')
    await expect(card).to_have_attribute("data-state", "ringing")
    await card.get_by_role("button", name="Answer").click()
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card.locator(".media")).to_have_attribute("data-ice", "connected")
    assert (await call.wait(15)).ok
