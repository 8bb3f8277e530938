"""Serves widget/ the way the bridge will (``/widget/`` + ``/widget/vendor/sip.js/``), plus a
scripted peer of the widget protocol on ``/ws`` whose frames are built from the pydantic models of
``ctibridge.hub.protocol``: the panel is tested against real protocol frames until it runs against
the real hub (see test_panel_e2e.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from playwright.async_api import Page
from pydantic import BaseModel

from ctibridge.hub.protocol import CallView

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WIDGET_DIR = Path(__file__).resolve().parents[2] / "ctibridge" / "widget"
SIPJS_DIR = WIDGET_DIR / "node_modules" / "sip.js" / "lib"


# The policy of docs/widget-deploy.md, loosened only to this test's loopback hosts: every browser
# test also proves the widget needs no inline script, style or eval.
WIDGET_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self' ws://127.0.0.1:*; frame-ancestors 'self' http://localhost:* http://127.0.0.1:*")


@web.middleware
async def widget_csp(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/widget/"):
        response.headers["Content-Security-Policy"] = WIDGET_CSP
    return response


def add_widget_routes(app: web.Application) -> None:
    if not (SIPJS_DIR / "index.js").is_file():
        raise RuntimeError("widget/node_modules missing: run scripts/install-widget.sh")
    app.middlewares.append(widget_csp)
    app.router.add_static("/widget/vendor/sip.js/", SIPJS_DIR)
    app.router.add_static("/widget/", WIDGET_DIR)


class PeerConnection:
    """One widget connection as the test sees it: what it sent, and a way to answer."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def recv_type(self, kind: str, within: float = 5.0) -> dict[str, Any]:
        """The next message of this type (client pings in between are skipped)."""
        async with asyncio.timeout(within):
            while (msg := await self.received.get())["type"] != kind:
                pass
        return msg

    async def send(self, message: BaseModel) -> None:
        await self.ws.send_str(message.model_dump_json())

    async def send_sip_credentials(self, dn: str, password: str, ws_server: str | None) -> None:
        """The contract's ``sip_credentials`` frame (docs/widget-protocol.md), as the bridge sends
        it after a verified hello."""
        await self.ws.send_json({"type": "sip_credentials", "dn": dn, "username": dn, "password": password,
                                 "ws_servers": [ws_server] if ws_server else None, "realm": None})

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code=code, message=reason.encode())


class ProtocolPeer:
    """The ``/ws`` endpoint: every accepted connection is handed to the test through ``accept()``."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[PeerConnection] = asyncio.Queue()
        self.open: set[web.WebSocketResponse] = set()

    async def accept(self, within: float = 10.0) -> PeerConnection:
        async with asyncio.timeout(within):
            return await self.connections.get()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = PeerConnection(ws)
        self.open.add(ws)
        await self.connections.put(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await conn.received.put(json.loads(msg.data))
        finally:
            self.open.discard(ws)
            conn.closed.set()
        return ws

    async def close_all(self) -> None:
        for ws in list(self.open):
            await ws.close(code=1001, message=b"test over")


async def sign_in(page: Page, token: str, dn: str = "") -> None:
    """The standalone widget's sign-in field: the only way an HMAC token reaches it (never a URL)."""
    form = page.get_by_role("form", name="Sign in to the bridge")
    if dn:
        await form.get_by_label("DN").fill(dn)
    await form.get_by_label("Agent token").fill(token)
    await form.get_by_role("button", name="Sign in").click()


def hmac_hello(token: str, dn: str = "5001") -> dict[str, Any]:
    return {"type": "hello", "dn": dn, "credential": {"kind": "hmac", "token": token}}


def call_view(call_id: str = "5001-3", **changes: Any) -> CallView:
    """A correlated, established inbound call as the correlator shows it (doc example)."""
    now = time.time()
    base: dict[str, Any] = {
        "id": call_id, "dn": "5001", "direction": "inbound", "state": "established",
        "state_since": now - 65, "created_at": now - 80,
        "remote": {"number": "+15550001000", "name": "José Müller"},
        "ani": "+15550001000", "dnis": "5001", "call_uuid": "G2BL4CALLUUID0001",
        "sip_call_id": "1-21046@127.0.0.2",
        "user_data": {"Segment": "Gold", "AccountId": "A-7731", "IVRPath": "sales>renewal"},
        "genesys": {"call_id": "01H3GWSCALL", "conn_id": "006e02a2c7e0f3a1", "state": "Established",
                    "call_type": "Inbound", "capabilities": ["Hold", "ReleaseCall", "SingleStepTransfer"],
                    "participants": ["+15550001000"]},
        "asterisk": {"state": "up", "linkedid": "1795597860.2", "bridge_id": "b1", "held": False,
                     "channels": [{"uniqueid": "1795597860.3", "name": "PJSIP/5001-00000003",
                                   "role": "agent", "state": "Up"}]},
        "actions": ["hangup", "hold", "blind_transfer", "consult_transfer", "dtmf"],
        "sync": {"status": "ok", "since": now - 65},
    }
    base.update(changes)
    return CallView.model_validate(base)
