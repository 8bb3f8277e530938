"""`ctibridge demo --asterisk sim` as a user runs it: a subprocess that prints URLs, then live,
correlated calls over the real widget protocol, in the real widget in Chromium, on the operator
page and as timelines."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

CTIBRIDGE = str(Path(sys.executable).with_name("ctibridge"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_DEADLINE_S = 20.0
CALL_DEADLINE_S = 20.0


@dataclass
class RunningDemo:
    proc: subprocess.Popen[str]
    urls: dict[str, str]  # "widget 5001", "widget 5002", "operator", "timeline", "token"

    @property
    def base(self) -> str:
        parts = urlsplit(self.urls["operator"])
        return f"{parts.scheme}://{parts.netloc}"

    def token(self, name: str) -> str:
        return parse_qs(urlsplit(self.urls[name]).query)["token"][0]


def _read_urls(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The lines up to ``token:``, within the start deadline."""
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    end = time.monotonic() + START_DEADLINE_S
    while "token" not in urls:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            raise TimeoutError(f"the demo printed no URLs within {START_DEADLINE_S}s: {urls}")
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the demo exited early (rc {proc.wait()})")
        name, sep, value = line.partition(":")
        if sep and name.strip() in ("widget   5001", "widget   5002", "operator", "timeline", "token"):
            urls[" ".join(name.split())] = value.strip()
    return urls


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningDemo]:
    proc = subprocess.Popen(
        [CTIBRIDGE, "demo", "--asterisk", "sim", "--port", "0", "--duration", "120", "--speed", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield RunningDemo(proc, _read_urls(proc))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _correlated(call: dict[str, Any]) -> bool:
    return bool(
        call["sync"]["status"] == "ok"
        and call.get("genesys")
        and call.get("asterisk")
        and call["state"] in ("established", "held")
    )


async def test_widget_socket_sees_live_correlated_calls(demo: RunningDemo) -> None:
    ws_url = demo.base.replace("http", "ws", 1) + "/ws"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        await ws.send_json({"type": "hello", "token": demo.token("widget 5001"), "dn": "5001"})
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "snapshot" and first["dn"] == "5001"
        seen: dict[str, Any] | None = None
        last_seq = first["seq"]
        end = time.monotonic() + CALL_DEADLINE_S
        while seen is None:
            msg = await ws.receive_json(timeout=max(0.1, end - time.monotonic()))
            if msg["type"] == "delta":
                assert msg["seq"] == last_seq + 1  # no gap, no duplicate
                last_seq = msg["seq"]
                if _correlated(msg["call"]):
                    seen = msg["call"]
        assert seen["call_uuid"] and seen["asterisk"]["channels"]
        # its ladder, from the demo's event log, shows both sides and the widget's deltas
        async with http.get(
            f"{demo.base}/calls/{seen['id']}/timeline", params={"token": demo.token("operator")}
        ) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert "DialBegin" in page and "StatusChange" in page and "established" in page


async def test_operator_page_and_widget_show_calls_in_chromium(demo: RunningDemo) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page()
            await page.goto(demo.urls["operator"])
            await expect(page.locator("#calls tr[data-sync='ok']").first).to_be_visible(
                timeout=CALL_DEADLINE_S * 1000
            )
            await expect(page.locator("#links")).to_contain_text("Registered")
            widget = await browser.new_page(viewport={"width": 300, "height": 500})
            await widget.goto(demo.urls["widget 5001"])
            await expect(widget.locator("#bridge-status")).to_have_attribute("data-status", "live")
            await expect(widget.locator("article[data-call-id]").first).to_be_visible(
                timeout=CALL_DEADLINE_S * 1000
            )
        finally:
            await browser.close()


def test_the_timeline_route_refuses_without_a_token(demo: RunningDemo) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{demo.base}/calls/5001-1/timeline", timeout=5)
    assert err.value.code == 401
    assert json.loads(err.value.read())["error"] == "unauthorized"
