"""The demo's whole path in Debian's Chromium: the agent desktop (WWE stand-in) hosting the widget,
the bridge as ``ctibridge demo`` builds it, the Genesys lab (SIP Server stand-in + GWS simulator +
kamailio) around the real Asterisk 22 sandbox. Customers call when a test says so (no traffic
loop, calls talk until someone hangs up)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import Browser, BrowserContext, FrameLocator, Locator, Page, ViewportSize, expect
from widget.conftest import SCREENSHOTS, browser, chromium_args  # noqa: F401  (shared fixtures)

from ctibridge.lab.demo import Demo, running_demo
from ctibridge.lab.sides import lab_side
from ctibridge.sim.gws import Advice, GwsSimulator
from ctibridge.sim.sipserver.lab import GenesysLab, genesys_lab, lab_agents

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

DESKTOP_VIEWPORT: ViewportSize = {"width": 1100, "height": 720}


@dataclass
class Scene:
    lab: GenesysLab
    demo: Demo
    asterisk: LabAsterisk


@pytest.fixture
async def scene(asterisk: LabAsterisk, tmp_path: Path) -> AsyncIterator[Scene]:
    gws = GwsSimulator(lab_agents(asterisk.settings), advice=Advice(timeout_ms=1500, interval_ms=0))
    await gws.start("127.0.0.1")
    try:
        async with genesys_lab(tmp_path, asterisk=asterisk.settings, gws=gws, talk_s=None,
                               ring_timeout_s=20.0, trunk_engines=2) as lab:
            asterisk.sandbox.cli("pjsip send register *all")  # now, not after its 60 s retry
            async with running_demo(0, tmp_path, lab_side(lab)) as demo:
                yield Scene(lab, demo, asterisk)
            await asterisk.clean()  # BYEs to the lab's legs while they still exist
    finally:
        await gws.stop()


class Desk:
    """One agent's desktop page: the WWE stand-in, logged in, with the widget inside."""

    def __init__(self, page: Page, dn: str) -> None:
        self.page, self.dn = page, dn
        self.widget: FrameLocator = page.frame_locator('iframe[title="Phone"]')

    def interaction(self, call_id: str) -> Locator:
        return self.page.locator(f'li.interaction[data-call-id="{call_id}"]')

    def card(self, uuid: str) -> Locator:
        return self.widget.locator(f'article[data-call-uuid="{uuid}"]')

    async def wwe(self, call_id: str, operation: str, destination: str | None = None) -> None:
        """The agent clicks a call button of the desktop (typing the destination first if any)."""
        item = self.interaction(call_id)
        if destination is not None:
            await item.get_by_label("Destination").fill(destination)
        await item.locator(f'button[data-operation="{operation}"]').click()


class Desks:
    """Agents' desktops, each in a browser context of its own (a GWS session cookie per agent)."""

    def __init__(self, chromium: Browser, scene: Scene) -> None:
        self.browser, self.scene = chromium, scene
        self.contexts: list[BrowserContext] = []

    async def open(self, dn: str) -> Desk:
        """Log in on the desktop URL the demo prints, with the login it prints; the phone registers."""
        context = await self.browser.new_context(viewport=DESKTOP_VIEWPORT)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda err: print(f"PAGE ERROR {dn}: {err}"))
        login = next(x for x in self.scene.demo.logins() if x.dn == dn)
        await page.goto(self.scene.demo.desktop_url)
        form = page.get_by_role("form", name="Agent login")
        await form.get_by_label("Username").fill(login.username)
        await form.get_by_label("Password").fill(login.password)
        await form.get_by_role("button", name="Log in").click()
        await expect(page.locator("#agent-dn")).to_have_text(dn)
        desk = Desk(page, dn)
        await expect(desk.widget.locator("#bridge-status")).to_have_attribute("data-status", "live")
        await expect(desk.widget.locator("#phone-status")).to_have_attribute("data-status", "registered")
        return desk


@pytest.fixture
async def desks(browser: Browser, scene: Scene,  # noqa: F811
                request: pytest.FixtureRequest) -> AsyncIterator[Desks]:
    """Closed before the scene (hence its argument): each desk's screenshot shows it live."""
    opened = Desks(browser, scene)
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for n, context in enumerate(opened.contexts):
        await context.pages[0].screenshot(path=str(SCREENSHOTS / f"{request.node.name}-{n}.png"))
        await context.close()
