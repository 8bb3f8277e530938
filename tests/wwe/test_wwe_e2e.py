"""End to end, nothing copied by hand and no secret in any URL: the agent logs in on the WWE
stand-in (the GWS simulator playing Genesys Authentication), the widget hosted there inherits the
session (agent.get + auth.getJwtToken), the real bridge verifies the JWT against the simulator's
JWKS and sends the DN's SIP credentials over the socket, the phone registers on the Asterisk 22
sandbox, and a call from sipp playing Genesys is answered with media."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import Page, expect
from pydantic import SecretStr
from widget.bridge_service import HOST, AmiLogin, Bridge, bridge_settings
from widget.conftest import free_port

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.gateway.wwe_options import wwe_options
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.lab_gateway import GenesysMirror
from ctibridge.sim.sipp import Sipp
from tools.local_services import LAB_WEBRTC_SECRET

from .desk import log_in

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

DN = "5001"
ASTERISK_WS = "ws://127.0.0.1:8088/ws"
CALL_UUID = "G2BL4WWEE2E0000000000000000001"
SECRET_WORDS = ("token", "password", "sipPassword", "jwt")


@pytest.fixture
async def scene(asterisk: LabAsterisk, tmp_path: Path) -> AsyncIterator[tuple[GwsSimulator, Bridge]]:
    gws = GwsSimulator([SimAgent(f"agent{DN}", secrets.token_hex(8), DN)])
    await gws.start(HOST)
    login = AmiLogin(asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
    mirror = GenesysMirror(gws)
    ami = AmiSettings(port=login.port, username=login.username, secret=SecretStr(login.secret))
    sip_server = AmiClient(ami, on_message=mirror.on_ami, on_link=lambda *_: None)
    port = free_port()
    settings = bridge_settings(port, login, gws, tmp_path / "events.jsonl", webrtc_secret=LAB_WEBRTC_SECRET,
                               ws_servers=[ASTERISK_WS])  # the bridge tells the phone where to register
    bridge = Bridge(settings, gws, port)
    try:
        await sip_server.start(timeout_s=10)
        await bridge.start()
        gws.set_agent_state(DN, "Ready")
        gws.wwe_options = wwe_options(f"http://{HOST}:{port}/widget/", [gws.base_url])
        yield gws, bridge
    finally:
        await bridge.stop()
        await sip_server.close()
        await gws.stop()


async def test_agent_logs_in_on_wwe_and_the_widget_answers_a_call(
    page: Page, scene: tuple[GwsSimulator, Bridge], sipp: Sipp,
) -> None:
    gws, _ = scene
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    await log_in(page, gws)
    widget = page.frame_locator('iframe[title="Phone"]')
    await expect(widget.locator("#bridge-status")).to_have_attribute("data-status", "live")
    phone = widget.locator("#phone-status")
    await expect(phone).to_have_attribute("data-status", "registered")
    await expect(phone).to_have_text(f"Phone {DN}")

    call = await sipp.genesys_call(DN, CALL_UUID, flow="hold", pause_ms=2500, caller="+15550001000")
    card = widget.locator(f'article[data-call-uuid="{CALL_UUID}"]')
    await expect(card).to_have_attribute("data-state", "ringing")
    await expect(page.locator("li.interaction")).to_have_count(1)  # WWE shows the same call
    await card.get_by_role("button", name="Answer").click()
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card.locator(".media")).to_have_attribute("data-ice", "connected")
    assert (await call.wait(15)).ok

    for url in urls:  # the desk, the widget, their APIs and sockets: no secret in any address
        assert not set(parse_qs(urlsplit(url).query)) & set(SECRET_WORDS), url
