"""WWE embedding: the widget in an iframe of a page on another origin. Screen pops reach only an
allowed parent origin, and commands are taken only from one."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from ctibridge.hub.protocol import ActionResult, SnapshotMessage

from .conftest import WidgetServer
from .widget_server import PeerConnection, call_view

pytestmark = pytest.mark.browser

# The WWE stand-in: two widget iframes, one that allows this page's origin and one that does not.
PARENT_PAGE = """<!doctype html><meta charset="utf-8"><title>WWE stand-in</title>
<script>
  window.received = [];
  addEventListener("message", (e) => window.received.push(
    {frame: e.source === frames[0] ? "allowed" : "other", origin: e.origin, data: e.data}));
</script>
<iframe id="allowed" width="300" height="500" allow="microphone" src="ALLOWED"></iframe>
<iframe id="other" width="300" height="500" allow="microphone" src="OTHER"></iframe>
"""


@pytest.fixture
def parent_url(widget_server: WidgetServer) -> str:
    """The parent page is served on http://localhost:<port>: another origin than the widget's."""
    parent_origin = f"http://localhost:{widget_server.port}"
    params = {"dn": "5001", "token": "tok"}
    allowed = widget_server.url(**params, parentOrigins=parent_origin)
    other = widget_server.url(**params, parentOrigins="https://wwe.example.com")
    widget_server.pages["parent.html"] = PARENT_PAGE.replace("ALLOWED", allowed).replace("OTHER", other)
    return f"{parent_origin}/pages/parent.html"


async def test_screen_pop_and_commands_only_for_allowed_origins(
    page: Page, widget_server: WidgetServer, parent_url: str,
) -> None:
    await page.set_viewport_size({"width": 640, "height": 520})
    await page.goto(parent_url)
    ringing = call_view("5001-9", state="ringing", actions=["answer", "hangup"])
    peers = [await widget_server.peer.accept(), await widget_server.peer.accept()]
    for conn in peers:
        await conn.recv_type("hello")
        await conn.send(SnapshotMessage(dn="5001", epoch="e1", seq=1, calls=[ringing]))
    for frame in ("#allowed", "#other"):  # both rendered the call, so both had the chance to pop
        await expect(page.frame_locator(frame).locator('article[data-call-id="5001-9"]')).to_be_visible()

    pops = await page.wait_for_function("window.received.filter(m => m.data.type === 'ctibridge.screenpop')")
    assert [(m["frame"], m["data"]["call"]["id"]) for m in await pops.json_value()] == [("allowed", "5001-9")]

    # A command to each frame: only the frame that allows this origin acts on it.
    await page.evaluate("""() => {
        const msg = {type: "ctibridge.action", ref: "r1", call_id: "5001-9", action: "hangup"};
        for (const f of document.querySelectorAll("iframe")) f.contentWindow.postMessage(msg, "*");
    }""")
    by_frame: dict[PeerConnection, dict[str, Any] | None] = {}
    for conn in peers:
        try:
            by_frame[conn] = await conn.recv_type("action", within=2.0)
        except TimeoutError:
            by_frame[conn] = None
    acted = [msg for msg in by_frame.values() if msg is not None]
    assert [(m["call_id"], m["action"]) for m in acted] == [("5001-9", "hangup")]
    acting = next(conn for conn, msg in by_frame.items() if msg is not None)
    await acting.send(ActionResult(id=acted[0]["id"], ok=True, outcome="confirmed", latency_ms=80))
    result = await page.wait_for_function(
        "window.received.find(m => m.data.type === 'ctibridge.action_result')")
    reply = await result.json_value()
    assert reply["frame"] == "allowed"
    assert reply["data"]["ref"] == "r1" and reply["data"]["result"]["outcome"] == "confirmed"
