"""RedisStore under failure: Redis restarts empty, Redis stalls, the owner dies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from callviews import DeltaStream
from eventually import eventually

from ctibridge.core.deltas import Delta
from ctibridge.store import RedisStore, ownership_changes


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


async def test_redis_restart_empty_falls_back_then_reseeds_without_loss(redis_process, stores):
    owner = new_store(stores, redis_process.url)
    assert await owner.acquire_ownership("bridge-a")
    epoch = owner.epoch
    stream = DeltaStream("5001")
    sent = stream.take(10)
    await owner.append(sent, core_state={"seqs": {"5001": 10}})

    redis_process.kill()
    during = stream.take(10)
    for delta in during:
        await owner.append([delta], core_state={"seqs": {"5001": delta.seq}})
    assert owner.stats.fallback_active and owner.stats.redis_failures >= 1
    seq, calls = await owner.snapshot("5001")  # the owner serves from memory meanwhile
    assert seq == 20 and {c["id"]: c for c in calls} == stream.live

    redis_process.start()
    await eventually(lambda: not owner.stats.fallback_active, what="catch-up after restart")
    assert owner.stats.reseeds == 1
    follower = new_store(stores, redis_process.url)
    assert encoded(await follower.since("5001", 0)) == encoded(sent + during)
    assert follower.epoch == epoch  # same stream: no widget has to re-snapshot
    assert await follower.load_core_state() == {"seqs": {"5001": 20}}
    assert not await follower.acquire_ownership("bridge-b")  # the lease was restored too


@pytest.mark.parametrize(("options", "reseeds"), [
    ({"replay_chunk": 3}, 0),  # the unacknowledged deltas are written in order, in several steps
    ({"pending_limit": 4}, 1),  # too many to keep: Redis is rewritten from memory instead
])
async def test_redis_stall_replays_unacknowledged_deltas_in_order(redis_process, stores, options, reseeds):
    owner = new_store(stores, redis_process.url, **options)
    follower = new_store(stores, redis_process.url)
    assert await owner.acquire_ownership("bridge-a")
    subscription = follower.subscribe()
    await subscription.ready()
    stream = DeltaStream("5001")
    deltas = stream.take(20)
    await owner.append(deltas[:5])

    redis_process.pause()
    for delta in deltas[5:15]:
        await owner.append([delta])
    assert owner.stats.fallback_active
    redis_process.resume()
    await owner.append(deltas[15:])  # still queued behind the backlog, in order
    await eventually(lambda: not owner.stats.fallback_active, what="catch-up after stall")
    assert owner.stats.reseeds == reseeds
    assert encoded(await follower.since("5001", 0)) == encoded(deltas)
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
    stream = DeltaStream("5001")
    first = stream.take(8)
    await old.append(first, core_state={"seqs": {"5001": 8}})

    roles: asyncio.Queue[bool] = asyncio.Queue()

    async def follow_lease() -> None:
        async for owner in ownership_changes(successor, "bridge-b", interval=0.05):
            await roles.put(owner)

    lease = asyncio.create_task(follow_lease())
    try:
        # the old owner stops renewing (hung or killed): the successor owns it within the TTL
        assert await asyncio.wait_for(roles.get(), 0.4 + 1.0) is True
        assert await successor.load_core_state() == {"seqs": {"5001": 8}}
        then = stream.take(4)
        await successor.append(then)
        assert encoded(await reader.since("5001", 0)) == encoded(first + then)
        seq, calls = await reader.snapshot("5001")
        assert seq == 12 and {c["id"]: c for c in calls} == stream.live
        assert not await old.renew("bridge-a")  # the old owner learns it lost the lease
        assert await old.since("5001", 8) is not None  # and reads Redis again
    finally:
        lease.cancel()
        await asyncio.gather(lease, return_exceptions=True)
    assert await old.acquire_ownership("bridge-a")  # released on cancel: no wait for the TTL
