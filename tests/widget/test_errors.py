"""Error states the agent must understand, in a browser whose user refuses the microphone."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from .conftest import CHROMIUM_ARGS, WidgetServer, free_port
from .widget_server import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium_args() -> list[str]:
    """A real refusal: no auto-accepting fake UI; Chromium denies the permission prompt."""
    return [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"] + ["--deny-permission-prompts"]


async def test_microphone_denied_and_asterisk_unreachable(page: Page, widget_server: WidgetServer) -> None:
    await page.goto(widget_server.url(dn="5001"))
    await sign_in(page, "tok")
    conn = await widget_server.peer.accept()
    await conn.recv_type("hello")
    await conn.send_sip_credentials("5001", "pw", f"ws://127.0.0.1:{free_port()}/ws")
    await expect(page.locator('.alert[data-error="mic_denied"]')).to_have_text(
        "Microphone access denied: allow it in the browser to talk.")
    await expect(page.locator('.alert[data-error="asterisk_unreachable"]')).to_contain_text(
        "Phone server unreachable: retrying")
    await expect(page.locator("#phone-status")).not_to_have_attribute("data-status", "registered")
