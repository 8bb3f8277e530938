"""RedisStore under failure: Redis restarts empty, Redis stalls, the owner dies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from callviews import DeltaStream
from eventually import eventually

from ctibridge.core.deltas import Delta
from ctibridge.core.snapshot import merge_state
from ctibridge.store import RedisStore, StoreUnavailable, ownership_changes


@pytest.fixture
async def stores(redis_server) -> AsyncIterator[list[RedisStore]]:
    made: list[RedisStore] = []
    yield made
    for store in made:
        await store.aclose()


def new_store(stores: list[RedisStore], url: str, **options: object) -> RedisStore:
    store = RedisStore(url, socket_timeout=0.3, retry_interval=0.05, **options)  # type: ignore[arg-type]
    stores.append(store)
    return store


def encoded(deltas: list[Delta] | None) -> list[str]:
    assert deltas is not None
    return [d.encode() for d in deltas]


class CoreChanges:
    """``export_changes()``-shaped batches: each adds a call and removes the one of 3 steps before;
    ``state`` is what they merge into (``merge_state``, independently of any store)."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None

    def next(self, seq: int) -> dict[str, Any]:
        changes = {"version": 2, "meta": {"seqs": {"5001": seq}},
                   "calls": {f"5001-{seq}": {"id": f"5001-{seq}", "seq": seq}, f"5001-{seq - 3}": None}}
        self.state = merge_state(self.state, json.loads(json.dumps(changes)))
        return changes


async def test_redis_restart_empty_falls_back_then_reseeds_without_loss(redis_process, stores):
    owner = new_store(stores, redis_process.url)
    assert await owner.acquire_ownership("bridge-a")
    epoch = owner.epoch
    stream, core = DeltaStream("5001"), CoreChanges()
    sent = stream.take(10)
    for delta in sent:
        await owner.append([delta], core_changes=core.next(delta.seq))

    redis_process.kill()
    during = stream.take(10)
    for delta in during:
        await owner.append([delta], core_changes=core.next(delta.seq))
    assert owner.stats.fallback_active and owner.stats.redis_failures >= 1
    with pytest.raises(StoreUnavailable):  # the owner shows no widget what Redis does not hold
        await owner.snapshot("5001")

    redis_process.start()
    await eventually(lambda: not owner.stats.fallback_active, what="catch-up after restart")
    assert owner.stats.reseeds == 1
    follower = new_store(stores, redis_process.url)
    assert encoded(await follower.since("5001", 0)) == encoded(sent + during)
    assert follower.epoch == epoch  # same stream: no widget has to re-snapshot
    assert await follower.load_core_state() == core.state == await owner.load_core_state()
    assert core.state is not None and set(core.state["calls"]) == {"5001-18", "5001-19", "5001-20"}
    assert not await follower.acquire_ownership("bridge-b")  # the lease was restored too


@pytest.mark.parametrize(("options", "reseeds"), [
    ({}, False),  # the unacknowledged deltas are written in order, in one group
    ({"pending_limit": 4}, True),  # too many to keep: Redis is rewritten from memory instead
])
async def test_redis_stall_replays_unacknowledged_deltas_in_order(redis_process, stores, options, reseeds):
    owner = new_store(stores, redis_process.url, **options)
    follower = new_store(stores, redis_process.url)
    assert await owner.acquire_ownership("bridge-a")
    subscription = follower.subscribe()
    await subscription.ready()
    stream, core = DeltaStream("5001"), CoreChanges()
    deltas = stream.take(20)
    await owner.append(deltas[:5], core_changes=core.next(5))

    redis_process.pause()
    for delta in deltas[5:15]:
        await owner.append([delta], core_changes=core.next(delta.seq))
    assert owner.stats.fallback_active
    redis_process.resume()
    await owner.append(deltas[15:], core_changes=core.next(20))  # still queued behind the backlog
    await eventually(lambda: not owner.stats.fallback_active, what="catch-up after stall")
    assert (owner.stats.reseeds > 0) == reseeds
    assert encoded(await follower.since("5001", 0)) == encoded(deltas)
    # Redis holds exactly the merged state: the full state went with the last replayed chunk
    assert await follower.load_core_state() == core.state == await owner.load_core_state()
    if reseeds:
        return  # followers resume from the store (the hub closes them on the gap)
    assert owner.stats.replayed >= 10
    received = [await asyncio.wait_for(anext(subscription), 5) for _ in deltas]
    await subscription.aclose()
    assert encoded(received) == encoded(deltas)


async def test_successor_takes_over_within_the_ttl_and_continues_the_sequence(redis_server, stores):
    old = new_store(stores, redis_server, owner_ttl=0.4)
    successor = new_store(stores, redis_server, owner_ttl=0.4)
    reader = new_store(stores, redis_server)
    assert await old.acquire_ownership("bridge-a")
    stream, core = DeltaStream("5001"), CoreChanges()
    first = stream.take(8)
    await old.save_core_state({"version": 2, "meta": {"seqs": {"5001": 0}}, "calls": {}})
    for delta in first:
        await old.append([delta], core_changes=core.next(delta.seq))

    roles: asyncio.Queue[bool] = asyncio.Queue()

    async def follow_lease() -> None:
        async for owner in ownership_changes(successor, "bridge-b", interval=0.05):
            await roles.put(owner)

    lease = asyncio.create_task(follow_lease())
    try:
        # the old owner stops renewing (hung or killed): the successor owns it within the TTL
        assert await asyncio.wait_for(roles.get(), 0.4 + 1.0) is True
        assert await successor.load_core_state() == core.state
        then = stream.take(4)
        for delta in then:
            await successor.append([delta], core_changes=core.next(delta.seq))
        assert await reader.load_core_state() == core.state
        assert encoded(await reader.since("5001", 0)) == encoded(first + then)
        seq, calls = await reader.snapshot("5001")
        assert seq == 12 and {c["id"]: c for c in calls} == stream.live
        assert not await old.renew("bridge-a")  # the old owner learns it lost the lease
        assert await old.since("5001", 8) is not None  # and reads Redis again
    finally:
        lease.cancel()
        await asyncio.gather(lease, return_exceptions=True)
    assert await old.acquire_ownership("bridge-a")  # released on cancel: no wait for the TTL


async def test_a_core_only_write_lost_in_a_stall_is_caught_up(redis_process, stores):
    owner = new_store(stores, redis_process.url)
    follower = new_store(stores, redis_process.url)
    assert await owner.acquire_ownership("bridge-a")
    stream, core = DeltaStream("5001"), CoreChanges()
    first = stream.take(3)
    await owner.append(first, core_changes=core.next(3))
    redis_process.pause()
    await owner.append(first, core_changes=core.next(4))  # no new delta, only core changes
    assert owner.stats.fallback_active
    redis_process.resume()
    await eventually(lambda: not owner.stats.fallback_active, what="catch-up after stall")
    assert await follower.load_core_state() == core.state
    then = stream.take(2)
    await owner.append(then, core_changes=core.next(5))  # incremental again
    assert await follower.load_core_state() == core.state
    assert encoded(await follower.since("5001", 0)) == encoded(first + then)


async def test_a_stale_owner_that_wakes_up_cannot_write(redis_server, stores):
    """The fencing token: an owner that stopped (a long GC pause, a SIGSTOP) and lost its lease
    meanwhile is refused by the APPEND script, whatever it still believes; it then reports that
    it is not the owner, and its queued deltas (never shown to a widget) are dropped."""
    stale = new_store(stores, redis_server, owner_ttl=0.2)
    successor = new_store(stores, redis_server, owner_ttl=5.0)
    reader = new_store(stores, redis_server)
    assert await stale.acquire_ownership("bridge-a")
    stream = DeltaStream("5001")
    first = stream.take(3)
    await stale.append(first)
    await eventually(lambda: successor.acquire_ownership("bridge-b"), what="the lease expired and was taken")
    theirs = DeltaStream("5001", seed=99)
    theirs.take(3)
    taken_over = theirs.take(2)  # the successor's 4 and 5
    await successor.append(taken_over)

    await stale.append(stream.take(4))  # its own 4..7: 6 and 7 would pass the sequence check
    await eventually(lambda: not stale.writing, what="the stale owner refused and stopped writing")
    assert not await stale.renew("bridge-a")
    assert encoded(await reader.since("5001", 0)) == encoded(first + taken_over)
