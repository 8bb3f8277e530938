"""`ctibridge demo` as a subprocess: started, its printed lines read, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from playwright.async_api import FrameLocator, Page

CTIBRIDGE = os.path.join(os.path.dirname(sys.executable), "ctibridge")
START_DEADLINE_S = 60.0  # the real lab boots Asterisk and PJSIP engines


@dataclass
class RunningDemo:
    proc: subprocess.Popen[str]
    lines: dict[str, str]  # "open", "agent <dn>", "start", "operator", "token": what follows the colon

    @property
    def base(self) -> str:
        parts = urlsplit(self.url("start"))
        return f"{parts.scheme}://{parts.netloc}"

    def url(self, name: str) -> str:
        return self.lines[name].split()[0]

    @property
    def token(self) -> str:
        """The operator token the demo prints (every DN): the credential of the tests' hellos."""
        return self.lines["token"]

    def login(self, dn: str) -> tuple[str, str]:
        """(username, password) of the agent at ``dn``, as printed."""
        words = self.lines[f"agent {dn}"].split()
        return words[words.index("username") + 1], words[words.index("password") + 1]


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout lines, read by a thread ("" at its end), so a wait can have a deadline."""
    stdout = proc.stdout
    assert stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read_lines(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The named lines up to ``token:``, within the start deadline."""
    printed = _lines(proc)
    lines: dict[str, str] = {}
    end = time.monotonic() + START_DEADLINE_S
    while "token" not in lines:
        try:
            line = printed.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no token line within {START_DEADLINE_S}s: {lines}") from None
        if not line:
            raise RuntimeError(f"the demo exited early (rc {proc.wait()})")
        name, sep, value = line.partition(":")
        if sep and (name.startswith("agent ") or name.strip() in ("open", "start", "operator", "token")):
            lines[" ".join(name.split())] = value.strip()
    return lines


@contextlib.contextmanager
def running_demo(*args: str) -> Iterator[RunningDemo]:
    proc = subprocess.Popen(
        [CTIBRIDGE, "demo", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield RunningDemo(proc, _read_lines(proc))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def correlated(call: dict[str, Any]) -> bool:
    """Both sides present and agreeing on an answered call."""
    return bool(
        call["sync"]["status"] == "ok"
        and call.get("genesys")
        and call.get("asterisk")
        and call["state"] in ("established", "held")
    )


async def first_correlated_call(demo: RunningDemo, dn: str, within_s: float) -> dict[str, Any]:
    """Over the real widget protocol: the first correlated call of ``dn``, checking the sequence."""
    ws_url = demo.base.replace("http", "ws", 1) + "/ws"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        await ws.send_json({"type": "hello", "dn": dn, "credential": {
            "kind": "hmac", "token": demo.token}})
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "snapshot" and first["dn"] == dn
        last_seq = first["seq"]
        async with asyncio.timeout(within_s):
            while True:
                msg = await ws.receive_json()
                if msg["type"] != "delta":
                    continue
                assert msg["seq"] == last_seq + 1  # no gap, no duplicate
                last_seq = msg["seq"]
                if correlated(msg["call"]):
                    return dict(msg["call"])


async def log_in_on_the_desktop(page: Page, demo: RunningDemo, dn: str) -> FrameLocator:
    """Open the printed desktop URL and log in with the printed login of ``dn``, as a newcomer
    does; the phone widget inside the desktop."""
    await page.goto(demo.url("open"))
    username, password = demo.login(dn)
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    return page.frame_locator('iframe[title="Phone"]')
