"""Connection-level limits the HTTP server lacks: a per-IP connection cap and a deadline for a new
connection's first request headers (slowloris). Later requests on a kept-alive connection are
bounded by aiohttp's keep-alive timeout (``Http.idle_timeout_s``), which also closes a connection
that sits idle or stuck in a request's headers.

``ConnectionGuard(limits, factory)`` is the protocol factory handed to ``loop.create_server``:
each connection gets a ``_Guarded`` protocol that admits or refuses it, then delegates every
protocol call to the aiohttp request handler ``factory()`` makes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("ctibridge.web.connections")

HEADERS_END = b"\r\n\r\n"


@dataclass(frozen=True)
class ConnectionLimits:
    per_ip: int  # open connections one address may hold
    header_timeout_s: float  # a new connection's first request headers must arrive within this
    exempt: frozenset[str] = frozenset()  # addresses without a cap (a reverse proxy on this host)


@dataclass
class ConnectionStats:
    refused_per_ip: int = 0
    header_timeouts: int = 0


class ConnectionGuard:
    def __init__(self, limits: ConnectionLimits, factory: Callable[[], asyncio.Protocol]) -> None:
        self.limits, self.factory = limits, factory
        self.stats = ConnectionStats()
        self.open: Counter[str] = Counter()

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    def admit(self, ip: str) -> bool:
        if ip not in self.limits.exempt and self.open[ip] >= self.limits.per_ip:
            self.stats.refused_per_ip += 1
            if self.stats.refused_per_ip in (1, 10, 100) or self.stats.refused_per_ip % 1000 == 0:
                log.warning("refused a connection from %s: %d open (connections_per_ip); %d refused so far",
                            ip, self.open[ip], self.stats.refused_per_ip)
            return False
        self.open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]


class _Guarded(asyncio.Protocol):
    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.inner: asyncio.Protocol | None = None  # made only for an admitted connection
        self.ip = ""
        self.header_timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.seen = b""  # the tail of what arrived, to spot the end of the first headers

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream server's connection
        peer = transport.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else ""
        if not self.guard.admit(self.ip):
            transport.abort()  # refused before aiohttp sees it: no request handler, no task
            return
        self.transport = transport
        self.header_timer = asyncio.get_running_loop().call_later(
            self.guard.limits.header_timeout_s, self._headers_late)
        self.inner = self.guard.factory()
        self.inner.connection_made(transport)

    def _headers_late(self) -> None:
        self.header_timer = None
        self.guard.stats.header_timeouts += 1
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.header_timer is not None:
            self.seen = self.seen[-3:] + data
            if HEADERS_END in self.seen:
                self.header_timer.cancel()
                self.header_timer = None
                self.seen = b""
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is None:
            return  # refused: never admitted
        if self.header_timer is not None:
            self.header_timer.cancel()
        self.guard.release(self.ip)
        self.inner.connection_lost(exc)
