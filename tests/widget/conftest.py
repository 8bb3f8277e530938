"""Browser fixtures: Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser),
a 300x500 page (the WWE iframe size) that leaves a screenshot in artifacts/screenshots/ after
every test, and the widget server with its protocol peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from tools.local_services import free_port

from .widget_server import ProtocolPeer, add_widget_routes

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WIDGET_VIEWPORT: ViewportSize = {"width": 300, "height": 500}

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium_args() -> list[str]:
    return CHROMIUM_ARGS


@pytest.fixture
async def browser(chromium_args: list[str]) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args, headless=True)
        yield browser
        await browser.close()


class WidgetServer:
    def __init__(self, port: int, peer: ProtocolPeer) -> None:
        self.port = port
        self.pages: dict[str, str] = {}  # extra HTML pages a test serves at /pages/<name>
        self.peer = peer
        self.origin = f"http://127.0.0.1:{port}"

    def url(self, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.origin}/widget/index.html?{query}"


@pytest.fixture
async def widget_server() -> AsyncIterator[WidgetServer]:
    peer = ProtocolPeer()
    server = WidgetServer(free_port(), peer)

    async def test_page(request: web.Request) -> web.Response:
        text = server.pages.get(request.match_info["name"])
        if text is None:
            raise web.HTTPNotFound()
        return web.Response(text=text, content_type="text/html")

    app = web.Application()
    app.router.add_get("/ws", peer.handle)
    app.router.add_get("/pages/{name}", test_page)
    add_widget_routes(app)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    yield server
    await peer.close_all()
    await runner.cleanup()


@pytest.fixture
async def page(
    browser: Browser, widget_server: WidgetServer, request: pytest.FixtureRequest,
) -> AsyncIterator[Page]:
    """Teardown before the server's, so the screenshot shows the widget still connected."""
    context = await browser.new_context(viewport=WIDGET_VIEWPORT)
    page = await context.new_page()
    page.on("pageerror", lambda err: print(f"PAGE ERROR {err}"))
    page.on("console", lambda msg: print(f"PAGE {msg.type}: {msg.text}"))
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"))
    await context.close()
