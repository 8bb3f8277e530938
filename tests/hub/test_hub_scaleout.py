"""Two bridge instances on one Redis: the owner publishes, the follower serves from Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from callviews import DeltaStream
from eventually import eventually
from redis.asyncio import Redis
from widget_rig import Widget, WidgetClosed

from ctibridge.store import RedisStore
from ctibridge.store.port import StateStore


@pytest.fixture
async def store_factory(redis_server) -> AsyncIterator:
    """Redis only here (overrides the parametrised plugin fixture)."""
    made: list[RedisStore] = []

    async def make(**options: object) -> StateStore:
        store = RedisStore(redis_server, socket_timeout=0.3, retry_interval=0.05, **options)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        await store.aclose()


async def two_instances(bridge, store_factory, redis_url: str):
    owner_store, follower_store = await store_factory(), await store_factory()
    assert await owner_store.acquire_ownership("bridge-a")
    assert not await follower_store.acquire_ownership("bridge-b")
    owner, follower = await bridge(owner_store), await bridge(follower_store, follow=True)
    probe = Redis.from_url(redis_url, protocol=2, decode_responses=True)

    async def subscribed() -> bool:
        [(_, listeners)] = await probe.pubsub_numsub(owner_store.channel)
        return listeners >= 1

    await eventually(subscribed, what="follower subscribed")
    await probe.aclose()
    return owner, follower


async def read_until(widget: Widget, seq: int) -> list[dict]:
    frames = [await widget.recv()]
    while frames[-1]["seq"] < seq:
        frames.append(await widget.recv())
    return frames


async def test_two_instances_serve_the_same_stream(bridge, store_factory, redis_server, session):
    owner, follower = await two_instances(bridge, store_factory, redis_server)
    stream = DeltaStream("5001")
    await owner.feed(stream.take(5))
    on_owner, on_follower = Widget(session, owner.url), Widget(session, follower.url)
    first, second = await on_owner.hello(), await on_follower.hello()
    assert first["seq"] == second["seq"] == 5 and first["epoch"] == second["epoch"]
    assert sorted(c["id"] for c in first["calls"]) == sorted(c["id"] for c in second["calls"])

    await owner.feed(stream.take(20), batch=3)
    assert await read_until(on_owner, 25) == await read_until(on_follower, 25)

    await on_follower.close()  # resume on the follower: the backlog comes from Redis
    missed = stream.take(4)
    await owner.feed(missed)
    again = Widget(session, follower.url)
    assert (await again.hello(since=(first["epoch"], 25)))["from_seq"] == 26
    assert await read_until(again, 29) == [d.message() for d in missed]


async def test_redis_restart_loses_no_delta_for_either_widget(bridge, store_factory, redis_process, session):
    owner, follower = await two_instances(bridge, store_factory, redis_process.url)
    stream = DeltaStream("5001")
    on_owner, on_follower = Widget(session, owner.url), Widget(session, follower.url)
    epoch = (await on_owner.hello())["epoch"]
    await on_follower.hello()

    redis_process.kill()
    await owner.feed(stream.take(10))  # the owner runs on memory meanwhile
    assert owner.store.stats.fallback_active
    redis_process.start()
    await eventually(lambda: not owner.store.stats.fallback_active, what="owner caught up")
    await owner.feed(stream.take(5))

    assert [f["seq"] for f in await read_until(on_owner, 15)] == list(range(1, 16))
    # The follower's subscription broke with Redis: either it got the replay in time, or the hub
    # saw a gap and closed with 1012, and the widget resumes from Redis. Nothing lost either way.
    seen: list[int] = []
    widget = on_follower
    while not seen or seen[-1] < 15:
        try:
            seen.append((await widget.recv())["seq"])
        except WidgetClosed as closed:
            assert closed.code == 1012
            widget = Widget(session, follower.url)
            resume = await widget.hello(since=(epoch, seen[-1] if seen else 0))
            assert resume["type"] == "resume"
    assert seen == list(range(1, 16))


async def test_follower_without_redis_closes_1013_and_serves_again_after(bridge, store_factory, redis_process,
                                                                         session):
    owner, follower = await two_instances(bridge, store_factory, redis_process.url)
    await owner.feed(DeltaStream("5001").take(3))
    redis_process.pause()
    widget = Widget(session, follower.url)
    await widget.send_hello()
    assert await widget.closed_with() == 1013  # try again later
    redis_process.resume()
    assert (await Widget(session, follower.url).hello())["seq"] == 3
