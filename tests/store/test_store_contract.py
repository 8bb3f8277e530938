"""The StateStore contract, run on every adapter (``store_factory`` is parametrised).

``writer`` appends, ``reader`` is another instance on the same backend (a follower, for Redis).
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from callviews import DeltaStream, replay

from ctibridge.core.correlator import Correlator
from ctibridge.core.deltas import Delta
from ctibridge.hub.protocol import CallView
from ctibridge.logs.eventlog import read_records, to_event
from ctibridge.store import StateStore


@pytest.fixture
async def pair(store_factory) -> tuple[StateStore, StateStore]:
    return await store_factory(log_length=20), await store_factory(log_length=20)


async def test_snapshot_is_the_fold_of_every_delta_per_dn(pair):
    writer, reader = pair
    a, b = DeltaStream("5001", seed=1), DeltaStream("5002", seed=2)
    deltas = [d for _ in range(15) for d in (a.next(), b.next())]
    for i in range(0, len(deltas), 4):
        await writer.append(deltas[i:i + 4])
    for stream in (a, b):
        seq, calls = await reader.snapshot(stream.dn)
        assert seq == 15
        assert {c["id"]: c for c in calls} == stream.live
        for call in calls:
            CallView.model_validate(call)
    assert await reader.snapshot("9999") == (0, [])
    assert reader.epoch == writer.epoch != ""


async def test_since_returns_exactly_the_missed_deltas_or_none(pair):
    writer, reader = pair
    stream = DeltaStream("5001")
    deltas = stream.take(30)  # log keeps 20: 11..30
    await writer.append(deltas)
    assert [d.seq for d in await reader.since("5001", 25)] == [26, 27, 28, 29, 30]
    assert await reader.since("5001", 30) == []
    assert [d.seq for d in await reader.since("5001", 10)] == list(range(11, 31))
    assert await reader.since("5001", 9) is None  # trimmed
    assert await reader.since("5001", 31) is None  # ahead of the stream
    assert await reader.since("7777", 0) == []
    missed = await reader.since("5001", 27)
    assert [d.encode() for d in missed] == [d.encode() for d in deltas[27:]]


async def test_append_is_idempotent_and_a_gap_is_never_bridged(pair):
    writer, reader = pair
    stream = DeltaStream("5001")
    first = stream.take(5)
    await writer.append(first)
    await writer.append(first[2:])  # replayed after an unacknowledged write: ignored
    assert [d.seq for d in await reader.since("5001", 0)] == [1, 2, 3, 4, 5]
    stream.take(3)  # 6..8 never reach the store
    later = stream.take(2)
    await writer.append(later)
    assert await reader.since("5001", 5) is None
    assert [d.seq for d in await reader.since("5001", 8)] == [9, 10]
    seq, calls = await reader.snapshot("5001")
    stored: dict = {}
    replay(stored, first + later)
    assert seq == 10 and {c["id"]: c for c in calls} == stored


async def test_log_is_bounded(store_factory):
    store = await store_factory(log_length=5)
    await store.append(DeltaStream("5001").take(50))
    assert [d.seq for d in await store.since("5001", 45)] == [46, 47, 48, 49, 50]
    assert await store.since("5001", 44) is None


RECORDING = Path(__file__).parents[1] / "recordings" / "inbound_answered.jsonl"


def core_state(seq: int, calls: dict[str, Any] | None = None, version: int = 2) -> dict[str, Any]:
    """An ``export_state()``/``export_changes()``-shaped dict."""
    return {"version": version, "meta": {"seqs": {"5001": seq}, "boot_time": None}, "calls": calls or {}}


def call(n: int, state: str = "ringing") -> dict[str, Any]:
    return {"id": f"5001-{n}", "state": state, "legs": [{"uniqueid": f"u{n}", "held": False}]}


async def test_core_changes_are_merged_into_the_saved_state(pair):
    writer, reader = pair
    assert await reader.load_core_state() is None
    full = core_state(3, {"5001-1": call(1), "5001-2": call(2)})
    await writer.save_core_state(full)
    assert await reader.load_core_state() == full

    stream = DeltaStream("5001")
    changes = core_state(5, {"5001-1": None, "5001-2": call(2, "talking"), "5001-3": call(3)})
    await writer.append(stream.take(2), core_changes=changes)
    expected = core_state(5, {"5001-2": call(2, "talking"), "5001-3": call(3)})
    for store in (reader, writer):
        assert await store.load_core_state() == expected

    await writer.append(stream.take(1))  # no core_changes: the core state is left alone
    # (append owns the change set it is given: export_changes builds a fresh one every time)
    loaded = await reader.load_core_state()
    assert loaded == expected
    loaded["calls"].clear()
    assert await reader.load_core_state() == expected  # a fresh copy each time

    await writer.append(stream.take(1), core_changes=core_state(6, {"5001-2": None, "5001-3": None}))
    assert await reader.load_core_state() == core_state(6)


async def test_save_core_state_replaces_everything(pair):
    writer, reader = pair
    stream = DeltaStream("5001")
    await writer.append(stream.take(1), core_changes=core_state(1, {"5001-1": call(1), "5001-2": call(2)}))
    takeover = core_state(1, {"5001-7": call(7)})
    await writer.save_core_state(takeover)
    assert await reader.load_core_state() == takeover
    # changes of another version start over (merge_state's rule): nothing older survives
    await writer.append(stream.take(1), core_changes=core_state(2, {"5001-8": call(8), "5001-7": None}, 3))
    assert await reader.load_core_state() == core_state(2, {"5001-8": call(8)}, 3)


async def test_incremental_core_state_follows_a_real_correlator(pair):
    """Batches as the pipeline sends them (deltas + ``export_changes()``), from a recording: the
    store holds the correlator's full state at every step, and a restored correlator continues."""
    writer, reader = pair
    core = Correlator()
    await writer.save_core_state(core.export_state())  # an owner taking over an empty stream
    batches = t = 0
    for record in read_records(RECORDING):
        event = to_event(record)
        if event is None:
            continue
        t = record.t
        deltas = core.tick(t) + core.feed(event)
        if not deltas:
            continue  # as the pipeline: the changes go with the next batch
        await writer.append(deltas, core_changes=core.export_changes())
        batches += 1
        expected = json.loads(json.dumps(copy.deepcopy(core).export_state()))  # keeps core's dirty set
        loaded = await reader.load_core_state()
        assert loaded == expected
        assert Correlator.restore(loaded).snapshot("5001") == core.snapshot("5001")
    await writer.append(core.tick(t + 5.0), core_changes=core.export_changes())
    assert batches >= 10  # the call was created, updated and removed along the way

    expected = json.loads(json.dumps(core.export_state()))
    for store in (writer, reader):
        loaded = await store.load_core_state()
        assert loaded == expected
        assert Correlator.restore(loaded).snapshot("5001") == core.snapshot("5001")


async def test_subscribe_yields_every_appended_delta_in_order(pair):
    writer, reader = pair
    subscription = reader.subscribe()
    await subscription.ready()
    stream = DeltaStream("5001")
    deltas = stream.take(12)
    received: list[Delta] = []

    async def collect() -> None:
        async for delta in subscription:
            received.append(delta)
            if len(received) == len(deltas):
                return

    collector = asyncio.create_task(collect())
    for i in range(0, 12, 3):
        await writer.append(deltas[i:i + 3])
    await asyncio.wait_for(collector, 5)
    await subscription.aclose()
    assert [d.encode() for d in received] == [d.encode() for d in deltas]
    view: dict = {}
    replay(view, received)
    assert view == stream.live


async def test_one_owner_at_a_time(pair):
    writer, reader = pair
    assert await writer.acquire_ownership("bridge-a")
    assert await writer.acquire_ownership("bridge-a")  # idempotent
    assert not await reader.acquire_ownership("bridge-b")
    assert await writer.renew("bridge-a")
    assert not await reader.renew("bridge-b")
    await writer.release("bridge-a")
    assert await reader.acquire_ownership("bridge-b")
    assert not await writer.acquire_ownership("bridge-a")
