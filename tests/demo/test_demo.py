"""`ctibridge demo --asterisk sim` as a user runs it: a subprocess that prints the desktop's URL and
logins, then live, correlated calls over the real widget protocol, in the widget inside the agent
desktop in Chromium, on the start and operator pages and as timelines."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from .demo_process import CTIBRIDGE, RunningDemo, first_correlated_call, log_in_on_the_desktop, running_demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CALL_DEADLINE_S = 20.0


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningDemo]:
    with running_demo("--asterisk", "sim", "--duration", "120", "--speed", "2") as running:
        yield running


async def test_widget_socket_sees_live_correlated_calls(demo: RunningDemo) -> None:
    call = await first_correlated_call(demo, "5001", CALL_DEADLINE_S)
    assert call["call_uuid"] and call["asterisk"]["channels"]
    # its ladder, from the demo's event log, shows both sides and the widget's deltas
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{demo.base}/calls/{call['id']}/timeline", params={"token": demo.token}
        ) as resp,
    ):
        assert resp.status == 200
        page = await resp.text()
    assert "DialBegin" in page and "StatusChange" in page and "established" in page


@pytest.mark.browser
async def test_start_page_operator_page_and_desktop_show_calls_in_chromium(demo: RunningDemo) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page()
            await page.goto(demo.url("start"))
            await expect(page.locator("body")).to_contain_text("This is a simulation")
            await expect(page.locator("#desktop")).to_have_attribute("href", demo.url("open"))
            await page.locator("#operator").click()
            await expect(page.locator("#calls tr[data-sync='ok']").first).to_be_visible(
                timeout=CALL_DEADLINE_S * 1000
            )
            await expect(page.locator("#links")).to_contain_text("Registered")
            desk = await browser.new_page(viewport={"width": 1100, "height": 720})
            widget = await log_in_on_the_desktop(desk, demo, "5001")
            await expect(widget.locator("#bridge-status")).to_have_attribute("data-status", "live")
            await expect(widget.locator("article[data-call-id]").first).to_be_visible(
                timeout=CALL_DEADLINE_S * 1000
            )
        finally:
            await browser.close()


def test_no_printed_address_holds_a_secret(demo: RunningDemo) -> None:
    printed = [value.split()[0] for value in demo.lines.values() if value.startswith("http")]
    assert {"open", "start", "operator"} <= {name for name, v in demo.lines.items() if v.startswith("http")}
    for url in printed:
        assert not parse_qs(urlsplit(url).query), url  # no token, password or anything else
    assert demo.token not in " ".join(printed)


def test_a_taken_bridge_port_is_named() -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        argv = [CTIBRIDGE, "demo", "--asterisk", "sim", "--port", str(port), "--duration", "5"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"127.0.0.1:{port} is taken" in done.stderr and "another demo" in done.stderr


def test_the_timeline_route_refuses_without_a_token(demo: RunningDemo) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{demo.base}/calls/5001-1/timeline", timeout=5)
    assert err.value.code == 401
    assert json.loads(err.value.read())["error"] == "unauthorized"


async def test_widget_actions_change_the_simulated_call_on_both_sides() -> None:
    """Hold and retrieve from the widget protocol: Genesys (GWS) carries them out, the simulated
    gateway follows as SIP Server's re-INVITE would, and the bridge confirms from both sides."""
    with running_demo(
        "--asterisk", "sim", "--duration", "60", "--speed", "0.4", "--scenario", "inbound_answered"
    ) as demo:
        ws_url = demo.base.replace("http", "ws", 1) + "/ws"
        call = await first_correlated_call(demo, "5001", CALL_DEADLINE_S)
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
            await ws.send_json({"type": "hello", "dn": "5001", "credential": {
                "kind": "hmac", "token": demo.token}})
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
            for n, (action, state) in enumerate((("hold", "held"), ("retrieve", "established"))):
                await ws.send_json(
                    {"type": "action", "id": f"a{n}", "call_id": call["id"], "action": action, "params": {}}
                )
                async with asyncio.timeout(CALL_DEADLINE_S):
                    while (msg := await ws.receive_json())["type"] != "action_result":
                        pass
                assert msg["ok"] and msg["outcome"] == "confirmed", msg
                async with (
                    aiohttp.ClientSession() as api,
                    api.get(
                        f"{demo.base}/api/calls/{call['id']}",
                        headers={"Authorization": f"Bearer {demo.token}"},
                    ) as resp,
                ):
                    view = await resp.json()
                assert view["state"] == state and view["sync"]["status"] == "ok"
