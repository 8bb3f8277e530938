"""`ctibridge demo` (the real Asterisk 22 sandbox and the Genesys lab) as a newcomer runs it: open
the printed desktop URL in Chromium, log in with the printed login, answer the next call in the
phone panel, put it on hold from the desktop. Also: a second demo names the port it cannot have."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from ctibridge.gateway.sandbox import default_root, is_built

from .demo_process import CTIBRIDGE, log_in_on_the_desktop, running_demo

pytestmark = pytest.mark.asterisk

CHROMIUM = "/usr/bin/chromium"
# A person's Chromium, except that a fake microphone stands in for theirs and is granted at once,
# and loopback ICE candidates are allowed: the tests' network namespace has no other usable address.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection"]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "demo-desktop.png"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WITHIN_MS = 30_000
expect.set_options(timeout=10_000)  # a loaded 2-core machine stalls the browser for seconds


@pytest.fixture(autouse=True)
def sandbox_built() -> None:
    if not is_built(default_root()):
        pytest.fail(f"no Asterisk sandbox at {default_root()}: run scripts/install-asterisk-sandbox.sh",
                    pytrace=False)


@pytest.mark.browser
async def test_a_newcomer_answers_a_call_in_the_browser_and_holds_it_from_the_desktop() -> None:
    with running_demo("--duration", "240", "--every", "1-2", "--talk", "120") as demo:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = await browser.new_page(viewport={"width": 1100, "height": 640})
                widget = await log_in_on_the_desktop(page, demo, "5001")
                await expect(widget.locator("#phone-status")).to_have_attribute("data-status", "registered")
                card = widget.locator("article[data-call-uuid]").first
                await card.get_by_role("button", name="Answer").click(timeout=WITHIN_MS)
                await expect(card).to_have_attribute("data-state", "established")
                await expect(card.locator(".media")).to_have_attribute("data-ice", "connected")
                await expect(card).to_have_attribute("data-sync", "ok")
                await expect(page.locator("li.interaction[data-state='Established']")).to_have_count(1)
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / "demo-desktop.png"))
                if os.environ.get("CTIBRIDGE_UPDATE_DOCS"):  # refresh the README's picture on purpose only
                    await page.screenshot(path=str(DOCS_SCREENSHOT))

                await page.locator("li.interaction button[data-operation='Hold']").click()
                await expect(card).to_have_attribute("data-state", "held")
                await expect(card).to_have_attribute("data-sync", "ok")
                await expect(card.locator(".sync")).to_contain_text("Genesys Held · Asterisk held")
            finally:
                await browser.close()


def test_a_second_demo_names_the_lab_port_it_cannot_have() -> None:
    with socket.create_server(("127.0.0.1", 5038)):  # as a first demo's Asterisk AMI would
        done = subprocess.run([CTIBRIDGE, "demo", "--asterisk", "real", "--duration", "5"],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Asterisk AMI: 127.0.0.1:5038 is taken" in done.stderr and "another demo" in done.stderr
