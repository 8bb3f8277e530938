"""One supervised CometD link on aiocometd-noloop (the fork that reconnects on Python >= 3.10).

The library re-handshakes and re-subscribes by itself when the server advises it (402 Unknown
client); it gives up with ``TransportTimeoutError`` after ``connection_timeout`` of failed
reconnects, and a server-side disconnect ends it with ``ServerError``. :class:`CometdLink` adds the
missing outer loop: it builds a fresh client inside the running loop, bounds ``open()``,
subscribes, and rebuilds with backoff after any failure. Link life is reported in order with the
data messages (see :class:`_LinkWatch`), so a consumer can re-read state exactly after a
re-subscribe. The library's log noise is kept out of the service's logs (:func:`quiet_library`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiocometd_noloop import Client, ConnectionType
from aiocometd_noloop.exceptions import AiocometdException
from aiocometd_noloop.extensions import Extension

from ctibridge.core.pacing import Backoff

Message = dict[str, Any]
LINK_CHANNEL = "/ctibridge/link"  # synthetic, never on the wire: link life in the message stream


@dataclass(frozen=True)
class LinkTimeouts:
    open: float = 15.0  # handshake + first connect + subscribes
    connection: float = 10.0  # library's limit for failed reconnects before TransportTimeoutError
    close: float = 3.0


class RebuildRequested(Exception):
    """Raised into the link by its owner (e.g. the HTTP session expired): rebuild from scratch."""


OnMessage = Callable[[Message], Awaitable[None]]
OnUp = Callable[[str], Awaitable[None]]  # "connected" after a build, "resubscribed" after a re-handshake
OnDown = Callable[[BaseException | str], Awaitable[None]]
BeforeOpen = Callable[[], Awaitable[None]]


class CometdLink:
    def __init__(
        self,
        url: str,
        channels: Sequence[str],
        *,
        on_message: OnMessage,
        on_up: OnUp,
        on_down: OnDown,
        http: aiohttp.ClientSession | None = None,
        before_open: BeforeOpen | None = None,
        connection_types: Sequence[str] = ("long-polling",),
        timeouts: LinkTimeouts | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url
        self.channels = list(channels)
        self._on_message = on_message
        self._on_up = on_up
        self._on_down = on_down
        self._http = http
        self._before_open = before_open
        self._connection_types = [ConnectionType(t) for t in connection_types]
        self._timeouts = timeouts or LinkTimeouts()
        self._backoff = backoff or Backoff()
        self._rebuild = asyncio.Event()
        self._rebuild_reason: BaseException | None = None
        self.connection_type = ""
        quiet_library()

    def rebuild(self, reason: BaseException) -> None:
        """Ask the running link to drop its client and start again (call it from the link's loop)."""
        self._rebuild_reason = reason
        self._rebuild.set()

    async def run(self) -> None:
        """Run until cancelled."""
        while True:
            self._rebuild.clear()
            self._rebuild_reason = None
            try:
                if self._before_open:
                    await self._before_open()
                await self._run_client()
            except Exception as exc:  # a supervisor: whatever broke, report it and start again
                await self._on_down(self._rebuild_reason or exc)
            await asyncio.sleep(self._backoff.next_delay())

    async def _run_client(self) -> None:
        watch = _LinkWatch()
        client = _SharedSessionClient(
            self.url,
            self._connection_types,
            connection_timeout=self._timeouts.connection,
            extensions=[_AdviceInSeconds(), watch],
            http=self._http,
        )
        try:
            await asyncio.wait_for(client.open(), self._timeouts.open)
            for channel in self.channels:
                await asyncio.wait_for(client.subscribe(channel), self._timeouts.open)
            self.connection_type = client.connection_type.value if client.connection_type else ""
            watch.up = True
            self._backoff.reset()
            await self._on_up("connected")
            await self._consume_until_rebuild(client)
        finally:
            with contextlib.suppress(AiocometdException, aiohttp.ClientError, TimeoutError, OSError):
                await asyncio.wait_for(client.close(), self._timeouts.close)

    async def _consume_until_rebuild(self, client: Client) -> None:
        consumer = asyncio.create_task(self._consume(client))
        rebuild = asyncio.create_task(self._rebuild.wait())
        try:
            await asyncio.wait({consumer, rebuild}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            rebuild.cancel()
            if not consumer.done():
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
        if consumer.done() and not consumer.cancelled() and consumer.exception():
            raise consumer.exception()  # type: ignore[misc]
        raise RebuildRequested(str(self._rebuild_reason))

    async def _consume(self, client: Client) -> None:
        while True:
            message = await client.receive()
            if message.get("channel") == LINK_CHANNEL:
                status = message["data"]["status"]
                if status == "lost":
                    await self._on_down(message["data"]["detail"])
                else:
                    await self._on_up(status)
            else:
                await self._on_message(message)


class _SharedSessionClient(Client):  # type: ignore[misc]
    """The library's client on *our* aiohttp session (cookie jar, Basic auth, CSRF middleware),
    which the library must not close: it is shared with the REST calls."""

    def __init__(self, *args: Any, http: aiohttp.ClientSession | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared_http = http

    async def _get_http_session(self) -> aiohttp.ClientSession:
        if self._shared_http is None:
            return await super()._get_http_session()  # type: ignore[no-any-return]
        return self._shared_http

    async def _close_http_session(self) -> None:
        if self._shared_http is None:
            await super()._close_http_session()


class _LinkWatch(Extension):  # type: ignore[misc]
    """Sees every incoming payload before the library queues it. A failed /meta/connect becomes a
    ``lost`` marker; the library's own re-handshake followed by its re-subscribes becomes a
    ``resubscribed`` marker at the end of the payload that confirmed them: data messages of that
    payload are older than the REST re-read the marker triggers, so they must be consumed first."""

    def __init__(self) -> None:
        self.up = False
        self._handshakes = 0
        self._resubscribing = False

    async def outgoing(self, payload: list[Message], headers: dict[str, str]) -> None:
        return None

    async def incoming(self, payload: list[Message], headers: Any = None) -> None:
        resubscribed = False
        for message in list(payload):
            channel, ok = message.get("channel"), message.get("successful")
            if channel == "/meta/connect" and ok is False and self.up:
                self.up = False
                payload.append(_marker("lost", str(message.get("error", "connect refused"))))
            elif channel == "/meta/handshake" and ok:
                self._handshakes += 1
                self._resubscribing = self._handshakes > 1
            elif channel == "/meta/subscribe" and ok and self._resubscribing:
                resubscribed = True
        if resubscribed:
            self._resubscribing = False
            self.up = True
            payload.append(_marker("resubscribed", ""))


class _AdviceInSeconds(Extension):  # type: ignore[misc]
    """Bayeux ``advice.interval`` is in milliseconds, but the library sleeps that many *seconds*
    before its next connect (``TransportBase._connect_done``); an ``interval: 1000`` would stall
    the link for 17 minutes. Convert it before the library stores the advice."""

    async def outgoing(self, payload: list[Message], headers: dict[str, str]) -> None:
        return None

    async def incoming(self, payload: list[Message], headers: Any = None) -> None:
        for message in payload:
            advice = message.get("advice")
            if isinstance(advice, dict) and isinstance(advice.get("interval"), int | float):
                advice["interval"] = advice["interval"] / 1000


def _marker(status: str, detail: str) -> Message:
    return {"channel": LINK_CHANNEL, "data": {"status": status, "detail": detail}}


class _DropLibraryNoise(logging.Filter):
    """asyncio logs the library's cancelled connect/receive callbacks at ERROR (it catches Exception, and
    CancelledError is a BaseException): harmless, drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        return not (isinstance(exc, asyncio.CancelledError) and any(c in message for c in _LIBRARY_CALLBACKS))


_LIBRARY_CALLBACKS = ("TransportBase._connect_done", "WebSocketTransport._receive_done")
_NOISE_FILTER = _DropLibraryNoise()


def quiet_library() -> None:
    """Idempotent. The library warns once a second while a server is down and logs INFO on every
    (re)subscribe: our own link events say all of that once."""
    logging.getLogger("aiocometd_noloop").setLevel(logging.ERROR)
    asyncio_log = logging.getLogger("asyncio")
    if _NOISE_FILTER not in asyncio_log.filters:
        asyncio_log.addFilter(_NOISE_FILTER)
    # aiohttp 3.14 deprecates ws_connect arguments the library passes (kept working in 3.x, pinned)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"aiocometd_noloop(\..*)?")
    warnings.filterwarnings(
        "ignore", message=r".*receive_timeout.*|ssl=None is deprecated", category=DeprecationWarning
    )
