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
  ``store.submit(deltas, core_changes=export_changes())`` per batch) and a subscriber of the store
  that encodes every delta (as the hub does); the clock stops when the subscriber has the last
  delta, so the Redis figure includes every commit (group commits, one script call per group).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc
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
from ctibridge.store.port import decode_frame
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
                  framer: Callable[[], Any] | None = None, collect: list[Delta] | None = None) -> int:
    core = Correlator()
    framer_ = framer() if framer is not None else AmiFramer(expect_greeting=False)
    count, t, next_tick = 0, 0.0, TICK_EVERY

    def out(deltas: list[Delta]) -> None:
        for delta in deltas:
            delta.encode()
        if store is not None and deltas:
            store.apply(deltas, None)
        if collect is not None:
            collect.extend(deltas)

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


async def _encode_stored(store: Any, seen: dict[str, int], caught_up: asyncio.Event) -> None:
    """The hub's part: every stored delta encoded; ``seen`` is each DN's last stored sequence."""
    subscription = store.subscribe()
    async for delta in subscription:
        delta.encode()
        seen[delta.dn] = delta.seq
        caught_up.set()


async def service_pipeline(items: list[Item], store: Any, warm: int) -> tuple[float, int]:
    """(seconds, messages) for ``items[warm:]``; the first ``warm`` items fill the state first."""
    from ctibridge.service.metrics import Metrics
    from ctibridge.service.pipeline import Pipeline

    correlator = Correlator()
    pipeline = Pipeline(correlator, store, metrics=Metrics(), clock=time.monotonic)
    await store.acquire_ownership("bench")
    seen: dict[str, int] = {}
    caught_up = asyncio.Event()
    follower = asyncio.create_task(_encode_stored(store, seen, caught_up))
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
        produced = correlator.export_state()["meta"]["seqs"]
        while any(seen.get(dn, 0) < seq for dn, seq in produced.items()):  # the last commits
            caught_up.clear()
            await caught_up.wait()
        return time.perf_counter() - start, count
    finally:
        runner.cancel()
        follower.cancel()
        await asyncio.gather(runner, follower, return_exceptions=True)


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


# --------------------------------------------------------------------------- retained memory


def _allocated(make: Callable[[], Any]) -> tuple[int, Any]:
    """(bytes still allocated by ``make()``'s result, the result)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = make()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before, kept
    finally:
        tracemalloc.stop()


def one_dn_window(deltas: list[Delta], window: int = 1000) -> list[Delta]:
    """The last ``window`` deltas as one DN's stream (its full log: the case of issue 17)."""
    return [Delta("5001", seq, d.op, d.call, d.t) for seq, d in enumerate(deltas[-window:], start=1)]


def retained_per_delta(deltas: list[Delta]) -> tuple[float, float, float]:
    """Per delta kept in a store's window: (bytes the store holds now, bytes on the wire, bytes the
    same delta costs as objects: a ``Delta`` with its call dict and cached frame, as stored before)."""
    wire = statistics.mean(len(d.encode().encode()) for d in deltas)

    def filled() -> MemoryStore:
        store = MemoryStore(log_length=len(deltas))
        store.apply(deltas)
        return store

    held, _ = _allocated(filled)
    as_objects, _ = _allocated(lambda: [decode_frame(d.encode()) for d in deltas])
    return held / len(deltas), wire, as_objects / len(deltas)


def redis_bytes_per_delta(deltas: list[Delta], redis_url: str) -> float:
    """Redis's own memory (INFO used_memory) per delta of one DN's full window, as RedisStore keeps it
    (log entry + the live calls' frames)."""
    from ctibridge.store.redis_store import RedisStore

    async def main() -> float:
        store = RedisStore(redis_url, prefix=f"mem{time.monotonic_ns()}", log_length=len(deltas))
        try:
            before = (await store.redis.info("memory"))["used_memory"]
            await store.append(deltas)
            after = (await store.redis.info("memory"))["used_memory"]
            return float(after - before) / len(deltas)
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
    with redis_server() as url:
        for _ in range(max(1, repeats // 2)):  # alternately: the ratio compares neighbouring runs
            rates["service_memory"].append(service_rate(service_items, warm))
            rates["service_redis"].append(service_rate(service_items, warm, url))

    window: list[Delta] = []
    core_pipeline(items, collect=window)
    window = one_dn_window(window)
    held, wire, as_objects = retained_per_delta(window)
    with redis_server() as url:
        in_redis = redis_bytes_per_delta(window, url)
    ratio = [m / r for m, r in zip(rates["service_memory"], rates["service_redis"], strict=True)]

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
        row("throughput.redis_slowdown", "memory rate / Redis rate, neighbouring runs", "ratio", ratio,
            Target("<=", 2.0)),
        row("store.delta_wire", "a delta on the wire (one DN's last 1,000)", "bytes", [wire]),
        row("store.delta_retained", "a retained delta in the store's window", "bytes", [held],
            Target("<=", wire, "<= wire size"), note="1,000-delta window of one DN, tracemalloc"),
        row("store.delta_as_objects", "the same delta as Delta + call dict + frame", "bytes", [as_objects]),
        row("store.delta_in_redis", "a retained delta in Redis (INFO used_memory)", "bytes", [in_redis]),
    ]
