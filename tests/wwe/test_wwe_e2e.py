"""End to end, nothing copied by hand and no secret in any URL: the agent logs in on the WWE
stand-in (the GWS simulator playing Genesys Authentication), the widget hosted there inherits the
session (agent.get + auth.getJwtToken), the real bridge verifies the JWT against the simulator's
JWKS and sends the DN's SIP credentials over the socket, the phone registers on the Asterisk 22
sandbox, and a call from sipp playing Genesys is answered with media."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import Page, expect
from widget.bridge_service import HOST, Bridge, bridge_on_lab_asterisk

from ctibridge.gateway.wwe_options import wwe_options
from ctibridge.sim.gws import GwsSimulator
from ctibridge.sim.sipp import Sipp

from .desk import log_in

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

DN = "5001"
ASTERISK_WS = "ws://127.0.0.1:8088/ws"
CALL_UUID = "G2BL4WWEE2E0000000000000000001"
SECRET_WORDS = ("token", "password", "sipPassword", "jwt")


@pytest.fixture
async def scene(asterisk: LabAsterisk, tmp_path: Path) -> AsyncIterator[tuple[GwsSimulator, Bridge]]:
    # the bridge tells the phone where to register (ws_servers)
    async with bridge_on_lab_asterisk(asterisk, tmp_path / "events.jsonl", DN, [ASTERISK_WS]) as bridge:
        bridge.gws.wwe_options = wwe_options(f"http://{HOST}:{bridge.port}/widget/", [bridge.gws.base_url])
        yield bridge.gws, bridge


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
