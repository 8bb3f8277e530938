"""The live pipeline: adapters' raw messages in, ordered deltas out to the store.

Adapters call ``feed_*`` from their callbacks; those only enqueue (adapters never wait for Redis or
a widget). One task consumes the queue, so the correlator sees both sources on one timeline, in
arrival order, and every DN's deltas reach the store in sequence order. The pipeline does not wait
for the store (``submit``: the Redis store commits many batches in one round trip), and it does
not publish: widgets get a delta from the store's subscription (``hub.follow``) once it is
stored, so no widget ever sees a delta a successor owner would not find. Ticks (grace
periods) go through the same queue. Repairs the correlator asks for are handed to ``on_repair``
as tasks, so a slow AMI action never stalls the stream. ``correlator`` is replaced on a takeover
(restored from the store), so others reach it through the pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ctibridge.core.ami_parse import GREETING_KEY, parse_ami
from ctibridge.core.correlator import Correlator, Repair
from ctibridge.core.deltas import Delta
from ctibridge.core.events import AmiLink, GwsLink, InboundEvent, ParseError
from ctibridge.core.gws_parse import parse_gws
from ctibridge.logs.eventlog import EventLogWriter, link_record
from ctibridge.service.bounds import bounded
from ctibridge.service.metrics import Metrics
from ctibridge.store.port import StateStore

log = logging.getLogger("ctibridge.service.pipeline")

SUB_STATES = frozenset({"booted", "resync_begin", "resync_end"})  # steps of a connected AMI link


@dataclass(frozen=True, slots=True)
class _Raw:
    src: str  # ami | gws
    conn: str  # "ami" or the DN of the GWS session
    raw: Any
    t: float


@dataclass(frozen=True, slots=True)
class _Tick:
    t: float


Item = _Raw | _Tick | AmiLink | GwsLink


class Pipeline:
    def __init__(
        self,
        correlator: Correlator,
        store: StateStore,
        *,
        metrics: Metrics,
        clock: Callable[[], float],
        log_writer: EventLogWriter | None = None,
        on_repair: Callable[[Repair], Coroutine[Any, Any, None]] | None = None,
        tick_interval_s: float = 0.25,
    ) -> None:
        self.correlator, self.store = correlator, store
        self.metrics, self.clock, self.log_writer = metrics, clock, log_writer
        self.on_repair = on_repair
        self.tick_interval_s = tick_interval_s
        self.listeners: list[Callable[[Delta], None]] = []  # e.g. action confirmations
        self.links: dict[str, str] = {}  # "ami" / "gws:5001" -> last status, for /readyz and /metrics
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._repairs: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ adapter callbacks

    def feed_ami(self, raw: Any, t: float) -> None:
        self._queue.put_nowait(_Raw("ami", "ami", raw, t))

    def feed_ami_link(self, status: str, t: float, uptime: float | None = None) -> None:
        self._queue.put_nowait(AmiLink(t, status, uptime))

    def feed_gws(self, dn: str, raw: Any, t: float) -> None:
        self._queue.put_nowait(_Raw("gws", dn, raw, t))

    def feed_gws_link(self, dn: str, status: str, t: float, detail: str = "") -> None:
        self._queue.put_nowait(GwsLink(t, dn, status, detail))

    # ------------------------------------------------------------------ the consumer

    async def run(self) -> None:
        """Consume until cancelled; a ticker enqueues a tick every ``tick_interval_s``."""
        ticker = asyncio.create_task(self._tick_forever())
        try:
            while True:
                item = await self._queue.get()
                try:
                    await self._process(item)
                except Exception:  # one bad message must not stop the bridge
                    log.exception("pipeline: failed to process %s", type(item).__name__)
                finally:
                    self._queue.task_done()
        finally:
            ticker.cancel()
            for task in list(self._repairs):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    async def settled(self) -> None:
        """Wait until everything enqueued so far has been processed."""
        await self._queue.join()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval_s)
            self._queue.put_nowait(_Tick(self.clock()))

    async def _process(self, item: Item) -> None:
        if isinstance(item, _Tick):
            deltas = self.correlator.tick(item.t)
        else:
            event = self._event(item)
            deltas = self.correlator.feed(event) if event is not None else []
        # The core's changes go with the batch, so a successor owner continues these sequences;
        # a call can change without a delta (e.g. a channel's variables), so check every time.
        changes = self.correlator.export_changes()
        if deltas or changes["calls"]:
            self.store.submit(deltas, core_changes=changes)
        if deltas:
            self.metrics.deltas_out.inc(len(deltas))
            for delta in deltas:
                if self.log_writer is not None:
                    self.log_writer.write("bridge", "out", delta.message(), delta.t, delta.dn)
                for listener in list(self.listeners):
                    listener(delta)
        for repair in self.correlator.drain_repairs():
            self._start_repair(repair)

    def _event(self, item: _Raw | AmiLink | GwsLink) -> InboundEvent | None:
        if isinstance(item, AmiLink | GwsLink):
            conn = "ami" if isinstance(item, AmiLink) else item.dn
            link = "ami" if isinstance(item, AmiLink) else f"gws:{item.dn}"
            if item.status == "connected" and self.links.get(link, "connected") != "connected":
                self.metrics.reconnects.labels(link).inc()
            if item.status not in SUB_STATES:
                self.links[link] = item.status
            if self.log_writer is not None:
                self.log_writer.write(*link_record(item), item.t, conn)
            return item
        raw = item.raw
        if item.src == "gws":
            raw, cut = bounded(raw)
            if cut:
                self.metrics.refusals.labels("gws", "value_too_large").inc(cut)
                log.warning("GWS %s: %d value(s) over the size limits cut", item.conn, cut)
        if self.log_writer is not None:
            self.log_writer.write(item.src, "in", raw, item.t, item.conn)
        if item.src == "ami":
            if not _ami_known_kind(item.raw):
                self.metrics.refusals.labels("ami", "no_event").inc()
            event = parse_ami(item.raw, item.t)
        else:
            event = parse_gws(raw, item.t, dn=item.conn)
        if isinstance(event, ParseError):
            self.metrics.parse_errors.labels(item.src).inc()
        elif event is not None:  # None: a kind the core ignores
            self.metrics.events_in.labels(item.src, type(event).__name__).inc()
        return event

    def _start_repair(self, repair: Repair) -> None:
        if self.on_repair is None:
            return
        task = asyncio.create_task(self.on_repair(repair))
        self._repairs.add(task)
        task.add_done_callback(self._repairs.discard)


def _ami_known_kind(raw: Any) -> bool:
    """An AMI frame is an event, an action's response, or the greeting; anything else is noise
    the core ignores, counted so an operator can see it."""
    return isinstance(raw, dict) and any(key in raw for key in ("Event", "Response", GREETING_KEY))
