"""Hub test rig: real WebSocket widgets against the real Hub (fixtures in conftest.py).

``Bridge.feed(deltas)`` does what the pipeline does (append, then publish). ``Widget`` is a
minimal widget: hello, then frames as dicts. Tokens come from a trivial HMAC verifier (the
service's real one lives in ctibridge.identity.hmac_token).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from ctibridge.core.deltas import Delta
from ctibridge.hub.protocol import SERVER_MESSAGE, ActionMessage, ActionResult, HelloMessage
from ctibridge.hub.server import Hub
from ctibridge.identity.refusal import Refused
from ctibridge.store import StateStore

SECRET = b"hub-test-secret"
ORIGIN = "http://widget.test"


@dataclass(frozen=True)
class Agent:
    agent: str
    dns: frozenset[str]


def mint(agent: str, dns: Sequence[str], *, ttl: float = 60.0, secret: bytes = SECRET) -> str:
    body = f"{agent}|{','.join(dns)}|{time.time() + ttl:.3f}"
    return body + "|" + hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


async def verify(hello: HelloMessage, request: web.Request) -> Agent:
    body, _, signature = hello.token.rpartition("|")
    if not body or not hmac.compare_digest(
            signature, hmac.new(SECRET, body.encode(), hashlib.sha256).hexdigest()):
        raise Refused("bad_signature")
    agent, dns, expires = body.split("|")
    if float(expires) < time.time():
        raise Refused("expired")
    return Agent(agent, frozenset(dns.split(",")))


async def confirm(principal: Any, msg: ActionMessage) -> ActionResult:
    return ActionResult(ok=True, outcome="confirmed", detail=f"{principal.agent} {msg.action} {msg.call_id}")


class Bridge:
    def __init__(self, store: StateStore, hub: Hub, server: TestServer) -> None:
        self.store, self.hub, self.server = store, hub, server
        self.url = str(server.make_url("/ws"))

    async def feed(self, deltas: Sequence[Delta], batch: int = 1) -> None:
        for i in range(0, len(deltas), batch):
            chunk = deltas[i:i + batch]
            await self.store.append(chunk)
            self.hub.publish(chunk)


class WidgetClosed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class Widget:
    def __init__(self, session: aiohttp.ClientSession, url: str, dn: str = "5001", *,
                 token: str | None = None, origin: str | None = ORIGIN) -> None:
        self.session, self.url, self.dn, self.origin = session, url, dn, origin
        self.token = mint("agent-1", [dn]) if token is None else token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.close_reason = ""  # the server's close message (the refusal reason the widget shows)

    async def open(self) -> aiohttp.ClientWebSocketResponse:
        self.ws = await self.session.ws_connect(self.url, origin=self.origin, autoclose=True)
        return self.ws

    async def send_hello(self, since: tuple[str, int] | None = None) -> None:
        ws = await self.open()
        hello: dict[str, Any] = {"type": "hello", "dn": self.dn,
                                 "credential": {"kind": "hmac", "token": self.token}}
        if since is not None:
            hello["since"] = {"epoch": since[0], "seq": since[1]}
        await ws.send_json(hello)

    async def hello(self, since: tuple[str, int] | None = None) -> dict[str, Any]:
        """Connect, say hello; the first frame (snapshot or resume)."""
        await self.send_hello(since)
        return await self.recv()

    async def recv(self, within: float = 5.0, *, pings: bool = False) -> dict[str, Any]:
        assert self.ws is not None
        while True:
            msg = await self.ws.receive(timeout=within)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    self.close_reason = msg.extra or ""
                raise WidgetClosed(self.ws.close_code)
            frame: dict[str, Any] = msg.json()
            SERVER_MESSAGE.validate_python(frame)  # every frame the hub sends obeys the schema
            if pings or frame["type"] != "ping":
                return frame

    async def closed_with(self, within: float = 5.0) -> int | None:
        """Read (and drop) frames until the server closes; the close code."""
        try:
            while True:
                await self.recv(within)
        except WidgetClosed as closed:
            return closed.code

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
