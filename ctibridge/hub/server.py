"""The widget WebSocket server (``GET /ws``): the one place unified call state leaves the bridge.

Wiring (by the web room)::

    hub = Hub(store, authenticate=check_hello, origin_allowed=origins.__contains__,
              on_action=actions.run, sip_credentials=phone_login_of_dn)
    app.router.add_get("/ws", hub.handle)
    # every instance, the owner too: ``await hub.follow(store)`` as a task (the store yields a
    # delta once it is stored); ``hub.publish(batch)`` hands deltas over directly
    # shutdown: ``await hub.aclose()``

Per connection: Origin (4403 ``origin_not_allowed``, closed before any hello is read),
``hello`` within ``hello_timeout``, its credential (``authenticate`` raises ``Refused``: 4401,
4403 or 4503 with the reason as close reason, a log line and ``stats.refusals[reason]``), the DN
among the credential's (4403 ``dn_not_allowed``), then ``sip_credentials`` (when configured), then
``snapshot`` or ``resume`` + the missed deltas, then live deltas. The connection is registered
for live deltas *before* the backlog is read, and each client keeps its last sent ``seq``: a
delta at or below it is dropped (already in the snapshot or backlog, or handed over
twice); one that skips ahead closes the connection with 1012
so the widget resumes with ``since`` (never a silent gap).

Every outgoing frame goes through the client's bounded queue, written by one task per client, so
``publish`` never waits: a client whose queue is full is closed with 4429 and nobody else notices.
Close codes: see ``docs/widget-protocol.md``; also 1012 (gap, resume) and 1013 (store unavailable).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import WSMsgType, hdrs, web
from pydantic import BaseModel

from ctibridge.core import defaults
from ctibridge.core.deltas import Delta
from ctibridge.core.pacing import TokenBucket
from ctibridge.hub.protocol import (
    ActionMessage,
    ActionResult,
    ClientPingMessage,
    ErrorMessage,
    HelloMessage,
    PongMessage,
    ProtocolError,
    ResumeMessage,
    ServerPingMessage,
    SipCredentialsMessage,
    parse_client_message,
)
from ctibridge.identity.refusal import Refused
from ctibridge.store.port import StateStore, StoreUnavailable

log = logging.getLogger(__name__)

CLOSE_BAD_HELLO = 4400
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_SLOW = 4429
CLOSE_RESUME = 1012  # sequence gap seen by the server: reconnect with since
CLOSE_UNAVAILABLE = 1013  # store cannot answer now: try again later
CLOSE_GOING_AWAY = 1001
CLOSE_TIMEOUT = 5.0  # a close handshake that does not finish in time aborts the socket


class Principal(Protocol):
    """Who a credential belongs to (``ctibridge.identity.identity.Identity`` fits)."""

    @property
    def agent(self) -> str: ...

    @property
    def dns(self) -> Collection[str]: ...


# the hello and the upgrade request (its cookies: the ``session`` credential) -> who, or Refused
Authenticate = Callable[[HelloMessage, web.Request], Awaitable[Principal]]
OnAction = Callable[[Principal, ActionMessage], Awaitable[ActionResult]]
SipCredentials = Callable[[str], SipCredentialsMessage | None]
OnPresence = Callable[[Principal, str, bool], Awaitable[None]]  # (who, dn, connected): admitted, then gone


@dataclass
class HubStats:
    """Counters for metrics (read by the web room)."""

    connections: int = 0
    bad_messages: int = 0
    bad_hellos: int = 0
    refusals: dict[str, int] = field(default_factory=dict)  # by RefusalReason (expired, ...)
    slow_consumers: int = 0
    rate_limited: int = 0
    actions_refused: int = 0  # over the agent's action limit (all of its sockets together)
    gaps: int = 0
    actions: int = 0


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    request: web.Request
    dn: str
    principal: Principal
    queue: asyncio.Queue[str | Delta]
    bucket: TokenBucket
    last_seq: int = -1  # -1: snapshot/backlog not sent yet, queue holds what arrived meanwhile
    queued_seq: int = 0  # highest delta seq put in the queue: a second copy is not queued
    closing: bool = False
    writer: asyncio.Task[None] | None = None
    closer: asyncio.Task[None] | None = None
    actions: set[asyncio.Task[None]] = field(default_factory=set)


class Hub:
    def __init__(self, store: StateStore, *, authenticate: Authenticate,
                 origin_allowed: Callable[[str | None], bool], on_action: OnAction,
                 sip_credentials: SipCredentials | None = None,
                 on_presence: OnPresence | None = None, heartbeat: float = 15.0,
                 hello_timeout: float = 5.0, send_queue: int = 256,
                 max_msg_size: int = defaults.MAX_FRAME_BYTES,
                 rate_per_second: float = defaults.RATE_PER_SECOND,
                 rate_burst: int = defaults.RATE_BURST,
                 action_allowed: Callable[[Principal], bool] = lambda principal: True) -> None:
        self.store = store
        self.authenticate = authenticate
        self.origin_allowed = origin_allowed
        self.on_action = on_action
        self.sip_credentials = sip_credentials
        self.on_presence = on_presence
        self.heartbeat = heartbeat
        self.hello_timeout = hello_timeout
        self.send_queue = send_queue
        self.max_msg_size = max_msg_size
        self.rate_per_second = rate_per_second
        self.rate_burst = rate_burst
        self.action_allowed = action_allowed  # per agent, shared by all its sockets and the REST API
        self.stats = HubStats()
        self._clients: dict[str, set[_Client]] = {}

    # ------------------------------------------------------------------ fan-out

    def publish(self, deltas: Iterable[Delta]) -> None:
        """Queue each delta for the clients of its DN. Never blocks, never raises."""
        for delta in deltas:
            for client in tuple(self._clients.get(delta.dn, ())):
                self._offer(client, delta)

    async def follow(self, store: StateStore) -> None:
        """Publish every delta the store's subscription yields (followers; runs until cancelled)."""
        subscription = store.subscribe()
        try:
            async for delta in subscription:
                self.publish((delta,))
        finally:
            await subscription.aclose()

    def clients_count(self) -> int:
        return sum(len(clients) for clients in self._clients.values())

    async def aclose(self) -> None:
        clients = [c for clients in self._clients.values() for c in clients]
        await asyncio.gather(*(self._close(c, CLOSE_GOING_AWAY, "server shutdown") for c in clients))

    def _offer(self, client: _Client, item: str | Delta) -> None:
        if client.closing:
            return
        if isinstance(item, Delta):
            if item.seq <= client.queued_seq:
                return  # the same delta from publish and from follow (the owner does both)
            client.queued_seq = item.seq
        try:
            client.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.stats.slow_consumers += 1
            self._close(client, CLOSE_SLOW, "slow consumer")

    def _send(self, client: _Client, message: BaseModel) -> None:
        self._offer(client, message.model_dump_json())

    # ------------------------------------------------------------------ connection

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=self.max_msg_size,
                                   compress=False, timeout=CLOSE_TIMEOUT)
        await ws.prepare(request)
        self.stats.connections += 1
        client: _Client | None = None
        try:
            origin = request.headers.get(hdrs.ORIGIN)
            if not self.origin_allowed(origin):  # closed before a frame is read: nothing is replayed
                await self._refuse(ws, request, Refused("origin_not_allowed", f"origin {origin!r:.100}"), "")
                return ws
            admitted = await self._admit(ws, request)
            if admitted is None:
                return ws
            hello, principal = admitted
            client = _Client(ws, request, hello.dn, principal, asyncio.Queue(self.send_queue),
                             TokenBucket.full(self.rate_per_second, self.rate_burst, time.monotonic()))
            self._clients.setdefault(hello.dn, set()).add(client)  # before reading the backlog
            if self.on_presence is not None:
                await self.on_presence(principal, hello.dn, True)
            try:
                await self._start(client, hello)
            except StoreUnavailable:
                await self._close(client, CLOSE_UNAVAILABLE, "state store unavailable")
                return ws
            await self._serve(client)
        except ConnectionError:
            pass  # the widget went away while we were writing to it
        except Exception:
            log.exception("widget connection failed")
            await ws.close(code=1011, message=b"internal error")
        finally:
            if client is not None:
                if self.on_presence is not None:  # first: the handler may be cancelled in _forget
                    await self.on_presence(client.principal, client.dn, False)
                await self._forget(client)
        return ws

    async def _admit(self, ws: web.WebSocketResponse,
                     request: web.Request) -> tuple[HelloMessage, Principal] | None:
        """hello in time, a credential that verifies, the DN among its DNs; or close with the code
        and reason that say why."""
        try:
            msg = await ws.receive(timeout=self.hello_timeout)
        except TimeoutError:
            await ws.close(code=CLOSE_HELLO_TIMEOUT, message=b"no hello in time")
            return None
        if msg.type is not WSMsgType.TEXT:
            return None  # closed, or too big (aiohttp closed it with 1009)
        try:
            hello = parse_client_message(msg.data)
            if not isinstance(hello, HelloMessage):
                raise ProtocolError("bad_hello", f"expected hello, got {hello.type}")
        except ProtocolError as err:
            self.stats.bad_hellos += 1
            await ws.send_str(err.reply.model_dump_json())
            await ws.close(code=CLOSE_BAD_HELLO, message=b"bad hello")
            return None
        try:
            principal = await self.authenticate(hello, request)
            if hello.dn not in principal.dns:
                raise Refused("dn_not_allowed", f"agent {principal.agent} does not have dn {hello.dn}")
        except Refused as refused:
            await self._refuse(ws, request, refused, hello.dn)
            return None
        sip = self.sip_credentials(hello.dn) if self.sip_credentials is not None else None
        if sip is not None:
            await ws.send_str(sip.model_dump_json())
        return hello, principal

    async def _refuse(self, ws: web.WebSocketResponse, request: web.Request, refused: Refused,
                      dn: str) -> None:
        """One refusal: counted, logged (reason and detail; verifiers never put a credential in
        either), and the close code + reason the widget shows."""
        self.stats.refusals[refused.reason] = self.stats.refusals.get(refused.reason, 0) + 1
        log.warning("widget refused (%s %s): %s; dn=%s remote=%s", refused.code, refused.reason,
                    refused.detail or "-", dn or "-", request.remote)
        await ws.close(code=refused.code, message=refused.reason.encode())

    async def _start(self, client: _Client, hello: HelloMessage) -> None:
        """The snapshot, or resume + the missed deltas; live deltas queue up meanwhile."""
        dn, since = hello.dn, hello.since
        if since is not None:
            missed = await self.store.since(dn, since.seq)
            epoch = self.store.epoch
            if missed is not None and since.epoch == epoch:
                await client.ws.send_str(ResumeMessage(dn=dn, epoch=epoch, from_seq=since.seq + 1)
                                         .model_dump_json())
                for delta in missed:
                    await client.ws.send_str(delta.encode())
                client.last_seq = missed[-1].seq if missed else since.seq
                return
        seq, calls = await self.store.snapshot(dn)
        # the calls are the correlator's views, already CallView-shaped: serialised, not re-validated
        await client.ws.send_str(json.dumps(
            {"type": "snapshot", "dn": dn, "epoch": self.store.epoch, "seq": seq, "calls": calls},
            separators=(",", ":"), ensure_ascii=False))
        client.last_seq = seq

    async def _serve(self, client: _Client) -> None:
        client.writer = asyncio.create_task(self._write(client))
        async for msg in client.ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not client.bucket.take(time.monotonic()):
                self.stats.rate_limited += 1  # binary frames count too: any frame costs work
                await self._close(client, CLOSE_SLOW, "rate limit")
                return
            if msg.type is WSMsgType.TEXT:
                self._on_frame(client, msg.data)
            elif msg.type is WSMsgType.BINARY:
                self.stats.bad_messages += 1
                self._send(client, ErrorMessage(code="bad_message", message="text frames only"))

    def _on_frame(self, client: _Client, data: str) -> None:
        try:
            msg = parse_client_message(data)
        except ProtocolError as err:
            self.stats.bad_messages += 1
            self._send(client, err.reply)
            return
        if isinstance(msg, ClientPingMessage):
            self._send(client, PongMessage())
        elif isinstance(msg, ActionMessage):
            if not self.action_allowed(client.principal):
                self.stats.actions_refused += 1
                self._send(client, ActionResult(id=msg.id, ok=False, outcome="rejected",
                                                detail="rate limited: too many actions for this agent"))
                return
            self.stats.actions += 1
            task = asyncio.create_task(self._act(client, msg))
            client.actions.add(task)
            task.add_done_callback(client.actions.discard)
        else:
            self.stats.bad_messages += 1
            self._send(client, ErrorMessage(code="unexpected_hello", message="already said hello"))

    async def _act(self, client: _Client, msg: ActionMessage) -> None:
        started = time.monotonic()
        try:
            result = await self.on_action(client.principal, msg)
        except Exception as err:
            log.exception("action %s on %s failed", msg.action, msg.call_id)
            result = ActionResult(ok=False, outcome="failed", detail=f"bridge error: {err}")
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        self._send(client, result.model_copy(update={"id": msg.id, "latency_ms": latency_ms}))

    async def _write(self, client: _Client) -> None:
        """The client's only writer: deltas in seq order, replies, and a ping when idle."""
        while True:
            try:
                item = client.queue.get_nowait()  # under load: no timer per frame
            except asyncio.QueueEmpty:
                try:
                    item = await asyncio.wait_for(client.queue.get(), self.heartbeat)
                except TimeoutError:
                    item = ServerPingMessage(t=time.time()).model_dump_json()
            if isinstance(item, Delta):
                if item.seq <= client.last_seq:
                    continue
                if item.seq != client.last_seq + 1:
                    self.stats.gaps += 1
                    self._close(client, CLOSE_RESUME, f"gap after seq {client.last_seq}, resume")
                    return  # not awaiting the close: _forget cancels this task, not the handshake
                client.last_seq = item.seq
                item = item.encode()
            await client.ws.send_str(item)

    def _close(self, client: _Client, code: int, reason: str) -> asyncio.Task[None]:
        """Stop serving the client now; the close handshake runs as its own task (awaitable)."""
        if client.closer is None:
            client.closing = True
            self._unregister(client)
            if client.writer is not None and client.writer is not asyncio.current_task():
                client.writer.cancel()  # it may be stuck on a full socket; frames written stay
            client.closer = asyncio.create_task(self._close_ws(client, code, reason))
        return client.closer

    @staticmethod
    async def _close_ws(client: _Client, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(client.ws.close(code=code, message=reason.encode()[:120]), CLOSE_TIMEOUT)
        except TimeoutError:  # the peer does not read: drop the socket
            if client.request.transport is not None:
                client.request.transport.abort()

    def _unregister(self, client: _Client) -> None:
        clients = self._clients.get(client.dn)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._clients[client.dn]

    async def _forget(self, client: _Client) -> None:
        """The connection ended: stop its writer and its pending actions (``on_action`` is
        cancelled when the widget goes away), let a close in progress finish."""
        self._unregister(client)
        client.closing = True
        tasks = [t for t in (client.writer, *client.actions) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(self._close(client, CLOSE_GOING_AWAY, ""), return_exceptions=True)
