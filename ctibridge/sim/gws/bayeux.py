"""A small Bayeux (CometD 3) server: handshake, connect (long-polling hold), subscribe, unsubscribe,
disconnect, advice, ``402::Unknown client``; long-polling and websocket transports on one URL.

Clients belong to an *owner* (the simulator's agent login) so a fault can drop one agent's clients.
Delivery is CometD's: a message published while nobody is subscribed is lost, which is exactly why
the bridge re-reads calls by REST after every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

Message = dict[str, Any]

CONNECTION_TYPES = ["long-polling", "websocket"]


@dataclass(frozen=True)
class Advice:
    """Server advice in milliseconds; ``timeout`` is how long a /meta/connect is held. A client
    that sends no /meta/connect for ``max_interval`` after its last one ended is forgotten, as
    CometD servers do (their default is 10 s), so a dead client does not stay subscribed."""

    timeout_ms: int = 30_000
    interval_ms: int = 0
    max_interval_ms: int = 10_000

    def as_dict(self, reconnect: str = "retry") -> Message:
        return {"reconnect": reconnect, "interval": self.interval_ms, "timeout": self.timeout_ms}


@dataclass
class BayeuxClient:
    id: str
    owner: str
    subscriptions: set[str] = field(default_factory=set)
    queue: list[Message] = field(default_factory=list)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    connected_once: bool = False
    last_seen: float = 0.0  # when its last request ended (server clock)
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # set while a /meta/connect is held
    gone: bool = False

    def matches(self, channel: str) -> bool:
        return any(_channel_matches(pattern, channel) for pattern in self.subscriptions)


def _channel_matches(pattern: str, channel: str) -> bool:
    """Bayeux wildcards: ``/a/*`` one segment, ``/a/**`` any depth."""
    if pattern == channel:
        return True
    if pattern.endswith("/**"):
        return channel.startswith(pattern[:-2])
    if pattern.endswith("/*"):
        prefix = pattern[:-1]
        return channel.startswith(prefix) and "/" not in channel[len(prefix) :]
    return False


# A hook may answer a meta message with a forced error (fault injection): returns the error code or None.
MetaFault = Callable[[str], int | None]


class BayeuxServer:
    def __init__(
        self,
        advice: Advice | None = None,
        meta_fault: MetaFault | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.advice = advice or Advice()
        self.clock = clock
        self.clients: dict[str, BayeuxClient] = {}
        self._meta_fault = meta_fault
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ publishing

    def publish(self, owner: str | None, channel: str, data: Any) -> int:
        """Queue ``data`` for every subscribed client of ``owner`` (all owners if None).
        Returns how many clients will get it."""
        self._forget_silent_clients()
        delivered = 0
        for client in list(self.clients.values()):
            if (owner is None or client.owner == owner) and client.matches(channel):
                client.queue.append({"channel": channel, "data": data, "id": str(next(self._ids))})
                client.wakeup.set()
                delivered += 1
        return delivered

    def subscribed(self, owner: str, channel: str) -> bool:
        self._forget_silent_clients()
        return any(c.owner == owner and c.matches(channel) for c in self.clients.values())

    def drop_clients(self, owner: str | None = None) -> None:
        """Forget clients (all, or one owner's): their next message gets ``402::Unknown client``;
        a held /meta/connect returns at once with that error."""
        for client in list(self.clients.values()):
            if owner is None or client.owner == owner:
                self._drop(client.id)

    # ------------------------------------------------------------------ transports

    async def handle_http(self, request: web.Request, owner: str) -> web.StreamResponse:
        """Long-polling POST, or the websocket upgrade on the same URL."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._handle_websocket(request, owner)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response([{"successful": False, "error": "400::bad json"}], status=400)
        return web.json_response(await self.handle_batch(body, owner))

    async def _handle_websocket(self, request: web.Request, owner: str) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        tasks: set[asyncio.Task[None]] = set()

        async def answer(batch: Any) -> None:
            replies = await self.handle_batch(batch, owner)
            if not ws.closed:
                with contextlib.suppress(ConnectionError):
                    await ws.send_str(json.dumps(replies))

        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    batch = json.loads(frame.data)
                except ValueError:
                    continue
                # a held /meta/connect must not block the subscribes that follow it on the socket
                task = asyncio.create_task(answer(batch))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return ws

    # ------------------------------------------------------------------ protocol

    async def handle_batch(self, batch: Any, owner: str) -> list[Message]:
        self._forget_silent_clients()
        messages = batch if isinstance(batch, list) else [batch]
        messages = [m for m in messages if isinstance(m, dict)]
        # the connect is answered last (and may be held) so its batch-mates take effect first
        connects = [m for m in messages if m.get("channel") == "/meta/connect"]
        replies = [self._handle_one(m, owner) for m in messages if m.get("channel") != "/meta/connect"]
        for message in connects:
            replies += await self._connect(message)
        return replies

    def _handle_one(self, message: Message, owner: str) -> Message:
        channel = str(message.get("channel", ""))
        base = {"channel": channel, "id": message.get("id")}
        fault = self._meta_fault(channel) if self._meta_fault else None
        if fault is not None:
            return self._error(base, fault)
        if channel == "/meta/handshake":
            client = BayeuxClient(id=secrets.token_hex(12), owner=owner, last_seen=self.clock())
            self.clients[client.id] = client
            return base | {
                "version": "1.0",
                "supportedConnectionTypes": CONNECTION_TYPES,
                "clientId": client.id,
                "successful": True,
                "advice": self.advice.as_dict(),
            }
        known = self.clients.get(str(message.get("clientId")))
        if known is None:
            return self._error(base, 402)
        client = known
        client.last_seen = self.clock()
        if channel in ("/meta/subscribe", "/meta/unsubscribe"):
            subscription = message.get("subscription")
            names: list[str] = [
                n
                for n in (subscription if isinstance(subscription, list) else [subscription])
                if isinstance(n, str) and n.startswith("/")
            ]
            if not names:
                return base | {"successful": False, "error": "400::bad subscription", "clientId": client.id}
            if channel == "/meta/subscribe":
                client.subscriptions.update(names)
            else:
                client.subscriptions.difference_update(names)
            return base | {"successful": True, "clientId": client.id, "subscription": subscription}
        if channel == "/meta/disconnect":
            self._drop(client.id)
            return base | {"successful": True, "clientId": client.id}
        # GWS notifications are server -> client only
        return base | {"successful": False, "error": "403::publish denied", "clientId": client.id}

    def _forget_silent_clients(self) -> None:
        deadline = self.clock() - self.advice.max_interval_ms / 1000
        for client in list(self.clients.values()):
            if client.last_seen < deadline and not client.holding.is_set():
                self._drop(client.id)

    def _drop(self, client_id: str) -> None:
        client = self.clients.pop(client_id, None)
        if client:
            client.gone = True
            client.wakeup.set()

    async def _connect(self, message: Message) -> list[Message]:
        base = {"channel": "/meta/connect", "id": message.get("id")}
        fault = self._meta_fault("/meta/connect") if self._meta_fault else None
        if fault is not None:
            return [self._error(base, fault)]
        client = self.clients.get(str(message.get("clientId")))
        if client is None:
            return [self._error(base, 402)]
        # the first connect returns at once (CometD does this so a client's open() is quick)
        if client.connected_once and not client.queue:
            client.wakeup.clear()
            client.holding.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.wakeup.wait(), self.advice.timeout_ms / 1000)
            client.holding.clear()
        client.connected_once = True
        client.last_seen = self.clock()
        if client.gone:
            return [self._error(base, 402)]
        delivered, client.queue = client.queue, []
        reply = base | {"successful": True, "clientId": client.id, "advice": self.advice.as_dict()}
        return [reply, *delivered]

    def _error(self, base: Message, code: int) -> Message:
        if code == 402:
            return base | {
                "successful": False,
                "error": "402::Unknown client",
                "advice": self.advice.as_dict("handshake") | {"interval": 0},
            }
        return base | {
            "successful": False,
            "error": f"{code}::simulated failure",
            "advice": self.advice.as_dict(),
        }
