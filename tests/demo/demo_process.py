"""`ctibridge demo` as a subprocess: started, its printed URLs read, stopped with Ctrl-C (SIGINT)."""

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
from urllib.parse import parse_qs, urlsplit

import aiohttp

CTIBRIDGE = os.path.join(os.path.dirname(sys.executable), "ctibridge")
START_DEADLINE_S = 30.0


@dataclass
class RunningDemo:
    proc: subprocess.Popen[str]
    urls: dict[str, str]  # "widget <dn>", "operator", "timeline", "token"

    @property
    def base(self) -> str:
        parts = urlsplit(self.urls["operator"])
        return f"{parts.scheme}://{parts.netloc}"

    def token(self, name: str) -> str:
        return parse_qs(urlsplit(self.urls[name]).query)["token"][0]


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


def _read_urls(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The lines up to ``token:``, within the start deadline."""
    lines = _lines(proc)
    urls: dict[str, str] = {}
    end = time.monotonic() + START_DEADLINE_S
    while "token" not in urls:
        try:
            line = lines.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"the demo printed no URLs within {START_DEADLINE_S}s: {urls}") from None
        if not line:
            raise RuntimeError(f"the demo exited early (rc {proc.wait()})")
        name, sep, value = line.partition(":")
        if sep and (name.startswith(("widget", "wwe")) or name.strip() in ("operator", "timeline", "token")):
            urls[" ".join(name.split())] = value.strip()
    return urls


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
        yield RunningDemo(proc, _read_urls(proc))
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
            "kind": "hmac", "token": demo.token(f"widget {dn}")}})
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
