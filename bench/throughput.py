"""Pipeline throughput: tiled captures replayed at full speed, against panoramisk's parser alone.

Every variant reads the same pre-built bytes (socket-sized chunks, 500 concurrent calls) and runs
alternately with the panoramisk baseline, so the ratio compares runs made seconds apart.

* ``panoramisk``: panoramisk 1.4 ``AMIProtocol.data_received`` + ``Message`` objects + a ``Manager``
  dispatching to one no-op ``*`` handler (no socket: both sides are measured without one).
* ``framer``: the core's ``AmiFramer`` alone (the same job as the baseline: bytes to messages).
* ``core``: ``AmiFramer`` + ``parse_ami``/``parse_gws`` + ``Correlator.feed`` + ``Delta.encode``.
* ``*_split``, ``*_selective``: the candidate framers of ``alternatives``.
* ``core+memory``: as core, plus ``MemoryStore.apply`` of each batch (no core-state copy).
* ``service(memory|redis)``: the service's own ``ctibridge.service.pipeline.Pipeline`` (queue, metrics,
  ``store.append(deltas, core_state=export_state())`` per batch, a hub that encodes every delta).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from bench.alternatives import SelectiveFramer, SplitFramer
from bench.common import Row, Target, row, timed
from bench.workload import Item, chunked, concurrent_stream, load_templates
from ctibridge.core.ami_parse import AmiFramer, parse_ami
from ctibridge.core.correlator import Correlator
from ctibridge.core.deltas import Delta
from ctibridge.core.gws_parse import parse_gws
from ctibridge.store.memory import MemoryStore
from tools.local_services import redis_server

CALLS = 500
EVENT_SPACING = 1e-5  # synthetic time between messages (100k/s): grace periods and windows work
TICK_EVERY = 0.25  # the service ticks the correlator every 0.25 s
TARGET_RATE = 100_000


def build(messages: int) -> tuple[list[Item], list[bytes]]:
    items = list(concurrent_stream(load_templates(), calls=CALLS, messages=messages))
    ami_only = [p for k, _, p in chunked([i for i in items if i[0] == "ami"])]
    return chunked(items), ami_only


# --------------------------------------------------------------------------- baseline


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def panoramisk_parse(chunks: list[bytes]) -> int:
    from panoramisk.ami_protocol import AMIProtocol
    from panoramisk.manager import Manager

    seen = [0]

    def handler(manager: Any, message: Any) -> None:
        seen[0] += 1

    manager = Manager()
    manager.register_event("*", handler)
    protocol = AMIProtocol()
    protocol.connection_made(_NullTransport())
    protocol.factory = manager
    for chunk in chunks:
        protocol.data_received(chunk)
    return seen[0]


def framer_only(chunks: list[bytes], factory: Callable[[], Any] | None = None) -> int:
    framer = factory() if factory is not None else AmiFramer(expect_greeting=False)
    return sum(len(framer.feed(chunk)) for chunk in chunks)


# --------------------------------------------------------------------------- the core path


def core_pipeline(items: list[Item], store: MemoryStore | None = None,
                  framer: Callable[[], Any] | None = None) -> int:
    core = Correlator()
    framer_ = framer() if framer is not None else AmiFramer(expect_greeting=False)
    count, t, next_tick = 0, 0.0, TICK_EVERY

    def out(deltas: list[Delta]) -> None:
        for delta in deltas:
            delta.encode()
        if store is not None and deltas:
            store.apply(deltas, None)

    for kind, dn, payload in items:
        raws = framer_.feed(payload) if kind == "ami" else (payload,)
        for raw in raws:
            count += 1
            t += EVENT_SPACING
            if t >= next_tick:
                out(core.tick(t))
                next_tick += TICK_EVERY
            event = parse_ami(raw, t) if kind == "ami" else parse_gws(raw, t, dn=dn)
            if event is not None:
                out(core.feed(event))
    return count


# --------------------------------------------------------------------------- the service's Pipeline


class _EncodingHub:
    def publish(self, deltas: list[Delta]) -> None:
        for delta in deltas:
            delta.encode()


async def service_pipeline(items: list[Item], store: Any, warm: int) -> tuple[float, int]:
    """(seconds, messages) for ``items[warm:]``; the first ``warm`` items fill the state first."""
    from ctibridge.service.metrics import Metrics
    from ctibridge.service.pipeline import Pipeline

    pipeline = Pipeline(Correlator(), store, _EncodingHub(), metrics=Metrics(), clock=time.monotonic)
    runner = asyncio.create_task(pipeline.run())
    framer = AmiFramer(expect_greeting=False)
    count, start = 0, 0.0
    try:
        for i, (kind, dn, payload) in enumerate(items):
            if i == warm:
                count, start = 0, time.perf_counter()
            now = time.monotonic()
            if kind == "ami":
                for raw in framer.feed(payload):
                    pipeline.feed_ami(raw, now)
                    count += 1
            else:
                pipeline.feed_gws(dn, payload, now)
                count += 1
            await pipeline.settled()  # one socket read at a time, as the adapters deliver them
        return time.perf_counter() - start, count
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def service_rate(items: list[Item], warm: int, redis_url: str | None = None) -> float:
    async def main() -> float:
        if redis_url is None:
            store: Any = MemoryStore()
        else:
            from ctibridge.store.redis_store import RedisStore
            store = RedisStore(redis_url, prefix=f"bench{time.monotonic_ns()}")
        try:
            seconds, count = await service_pipeline(items, store, warm)
            return count / seconds
        finally:
            await store.aclose()
    return asyncio.run(main())


# --------------------------------------------------------------------------- the benchmark


def _rate(fn: Callable[[], int]) -> float:
    gc.collect()
    seconds, count = timed(fn)
    return count / seconds


def run(quick: bool = False) -> list[Row]:
    messages, repeats = (4_000, 1) if quick else (60_000, 5)
    items, ami_chunks = build(messages)
    # The service path is two orders slower: a slice, after a warm-up slice that fills the state.
    warm, measured = (100, 100) if quick else (1_000, 1_500)
    service_items = items[: warm + measured]
    core_pipeline(items[: len(items) // 10])  # warm-up (imports, caches)

    rates: dict[str, list[float]] = {k: [] for k in (
        "pano", "framer", "framer_split", "core", "ratio",
        "core_selective", "ratio_selective", "core_memory", "service_memory", "service_redis")}
    for _ in range(repeats):
        base = _rate(lambda: panoramisk_parse(ami_chunks))
        core = _rate(lambda: core_pipeline(items))
        selective = _rate(lambda: core_pipeline(items, framer=SelectiveFramer))
        rates["pano"].append(base)
        rates["core"].append(core)
        rates["ratio"].append(core / base)
        rates["core_selective"].append(selective)
        rates["ratio_selective"].append(selective / base)
        rates["framer"].append(_rate(lambda: framer_only(ami_chunks)))
        rates["framer_split"].append(_rate(lambda: framer_only(ami_chunks, SplitFramer)))
        rates["core_memory"].append(_rate(lambda: core_pipeline(items, store=MemoryStore())))
    for _ in range(max(1, repeats // 2)):
        rates["service_memory"].append(service_rate(service_items, warm))
    with redis_server() as url:
        for _ in range(max(1, repeats // 2)):
            rates["service_redis"].append(service_rate(service_items, warm, url))

    rate = Target(">=", TARGET_RATE, ">= 100,000")
    par = Target(">=", 1.0)
    r = rates
    return [
        row("throughput.panoramisk", "panoramisk 1.4 parser alone (baseline)", "msg/s", r["pano"],
            note=f"{messages} messages ({len(items)} reads/GWS messages), {CALLS} concurrent calls"),
        row("throughput.framer", "core AmiFramer alone", "msg/s", r["framer"]),
        row("throughput.framer_split", "SplitFramer: split per read (proposed)", "msg/s", r["framer_split"]),
        row("throughput.core", "framer+parse+correlate+encode", "msg/s", r["core"], rate),
        row("throughput.core_vs_panoramisk", "core path / panoramisk, same run", "ratio", r["ratio"], par),
        row("throughput.core_selective", "core path, SelectiveFramer", "msg/s", r["core_selective"], rate),
        row("throughput.selective_vs_panoramisk", "SelectiveFramer path / panoramisk", "ratio",
            r["ratio_selective"], par),
        row("throughput.core_memory", "core path + MemoryStore.apply", "msg/s", r["core_memory"], rate),
        row("throughput.service_memory", "pipeline.Pipeline + MemoryStore", "msg/s", r["service_memory"],
            rate, note=f"{measured} messages after {warm}, {CALLS} calls live"),
        row("throughput.service_redis", "pipeline.Pipeline + RedisStore", "msg/s", r["service_redis"], rate),
    ]
