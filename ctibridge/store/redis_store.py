"""Redis store: shared state for several bridge instances (one owner writes, all serve widgets).

Layout under ``prefix`` (default ``ctibridge``):

=====================  =======  ==========================================================
``{p}:epoch``          string   stream identity; absent = Redis lost its data
``{p}:seq``            hash     dn -> current sequence
``{p}:calls:{dn}``     hash     call id -> the frame (delta JSON) of its last change
``{p}:log:{dn}``       list     the last ``log_length`` frames, oldest first
``{p}:core:meta``      string   the correlator's state without its calls: ``{"version", "meta"}``
``{p}:core:calls``     hash     call id -> JSON of that call (the ``calls`` of ``export_state()``)
``{p}:owner``          string   instance id of the owner, with a TTL (the lease)
``{p}:deltas``         pub/sub  every applied frame, for followers
=====================  =======  ==========================================================

A batch is applied by one Lua script (``redis_scripts.APPEND``: atomic, idempotent per seq,
publishes what it applied), together with its core state changes: the meta is rewritten and only
the changed calls are set or deleted, so a batch costs O(changed calls), not O(live calls).

The writer (the instance that appends: the owner) keeps a ``MemoryStore`` mirror and serves its
own reads from it. When Redis fails, the writer keeps running on the mirror (``stats``
says so), queues the deltas Redis has not acknowledged, and a catch-up task writes them in order
once Redis answers again; if Redis came back empty (no epoch) it is re-seeded from the mirror
under the same epoch, so no widget has to re-snapshot. Followers read Redis directly and raise
``StoreUnavailable`` while it is down.

Known limit: there is no fencing token. If Redis comes back empty after an outage, the old owner
re-acquires the lease on its next renew, but a follower polling at that instant can win it first.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ctibridge.core import defaults
from ctibridge.core.deltas import Delta
from ctibridge.store import redis_scripts as scripts
from ctibridge.store.memory import DEFAULT_LOG_LENGTH, MemoryStore, new_epoch
from ctibridge.store.port import (
    StateStore,
    StoreStats,
    StoreUnavailable,
    Subscription,
    contiguous_after,
)

log = logging.getLogger(__name__)

_DOWN = (RedisError, OSError, asyncio.TimeoutError)

def _delta(frame: str) -> Delta:
    return Delta.from_message(json.loads(frame))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


_NO_CORE = ["", "", "0"]  # APPEND's core part when the batch leaves the core state alone


def _core_args(mode: str, state: dict[str, Any], calls: dict[str, Any]) -> list[str]:
    """APPEND's core part: ``state``'s version and meta, and ``calls`` (id -> call, None = removed)."""
    args = [mode, _json({"version": state.get("version"), "meta": state.get("meta")}), str(len(calls))]
    for cid, call in calls.items():
        args += [cid, "" if call is None else _json(call)]
    return args


def _full_core_args(state: dict[str, Any] | None) -> list[str]:
    return _NO_CORE if state is None else _core_args("replace", state, state["calls"])


def _core_from(meta: str, calls: Sequence[str] | dict[str, str]) -> dict[str, Any] | None:
    """The full state from ``{p}:core:meta`` and ``{p}:core:calls`` (a dict, or HGETALL's flat list)."""
    if not meta:
        return None
    pairs = calls.items() if isinstance(calls, dict) else zip(calls[::2], calls[1::2], strict=True)
    state: dict[str, Any] = json.loads(meta)
    state["calls"] = {cid: json.loads(text) for cid, text in pairs}
    return state


class RedisStore(StateStore):
    def __init__(self, url: str, *, prefix: str = "ctibridge", log_length: int = DEFAULT_LOG_LENGTH,
                 owner_ttl: float = defaults.OWNERSHIP_TTL_S, socket_timeout: float = 1.0,
                 pending_limit: int = 100_000,
                 retry_interval: float = 0.2, replay_chunk: int = 500) -> None:
        self.url = url
        self.prefix = prefix
        self.log_length = log_length
        self.owner_ttl = owner_ttl
        self.pending_limit = pending_limit
        self.retry_interval = retry_interval
        self.replay_chunk = replay_chunk  # deltas per script call when catching up: Redis stays responsive
        self.stats = StoreStats()
        self.redis: Redis = Redis.from_url(
            url, protocol=2, decode_responses=True, socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout, retry=Retry(NoBackoff(), 0))
        self._append = self.redis.register_script(scripts.APPEND)
        self._snapshot = self.redis.register_script(scripts.SNAPSHOT)
        self._since = self.redis.register_script(scripts.SINCE)
        self._dump = self.redis.register_script(scripts.DUMP)
        self._load_core = self.redis.register_script(scripts.LOAD_CORE)
        self._lease = self.redis.register_script(scripts.LEASE)
        self._release = self.redis.register_script(scripts.RELEASE)
        self._epoch = ""
        self._owner: str | None = None
        # writer side
        self._mirror: MemoryStore | None = None
        self._write_lock = asyncio.Lock()  # batches reach Redis in order
        self._pending: deque[Delta] = deque()  # applied to the mirror, not acknowledged by Redis
        self._reseed = False  # Redis must be rewritten from the mirror (lost data / queue overflow)
        self._core_behind = False  # Redis's core state is not the mirror's: next core write is full
        self._catch_up: asyncio.Task[None] | None = None

    @property
    def epoch(self) -> str:
        return self._mirror.epoch if self._mirror is not None else self._epoch

    @property
    def channel(self) -> str:
        return f"{self.prefix}:deltas"

    # ------------------------------------------------------------------ writer

    async def _become_writer(self) -> MemoryStore:
        """The mirror; loaded from Redis the first time. Redis down then: start empty and rewrite
        Redis when it returns (an owner never gets here that way: it loads on acquiring)."""
        if self._mirror is None:
            try:
                self._mirror = await self._load_mirror()
            except _DOWN:
                self.stats.redis_failures += 1
                self._mirror = MemoryStore(log_length=self.log_length)
                self._reseed = True
                self._start_catch_up()
        return self._mirror

    async def _load_mirror(self) -> MemoryStore:
        dump = await self._dump(args=[self.prefix, new_epoch()])
        mirror = MemoryStore(log_length=self.log_length, epoch=dump[0])
        mirror.core_state = _core_from(dump[1], dump[2])
        for i in range(3, len(dump), 4):
            state = mirror.dn(dump[i])
            for frame in dump[i + 1]:
                state.apply(_delta(frame))
            state.calls = {str(d.call["id"]): d for d in map(_delta, dump[i + 2])}
            state.seq = int(dump[i + 3])
        return mirror

    @staticmethod
    def _args(deltas: Sequence[Delta]) -> list[str]:
        args: list[str] = []
        for d in deltas:
            args += [d.dn, str(d.seq), str(d.call["id"]), d.op.value, d.encode()]
        return args

    async def append(self, deltas: Sequence[Delta], *, core_changes: dict[str, Any] | None = None) -> None:
        await self._write(deltas, core_changes=core_changes)

    async def save_core_state(self, state: dict[str, Any]) -> None:
        await self._write((), replace=state)

    async def _write(self, deltas: Sequence[Delta], *, core_changes: dict[str, Any] | None = None,
                     replace: dict[str, Any] | None = None) -> None:
        """One batch to the mirror, then Redis: ``core_changes`` merged (``append``), or
        ``replace`` (a full state: ``save_core_state``) replacing what is stored."""
        mirror = await self._become_writer()
        before = mirror.core_state
        # a change of version (or nothing stored yet) restarts the state: merge_state's rule
        full = replace is not None or (core_changes is not None and (
            before is None or before.get("version") != core_changes.get("version")))
        fresh = mirror.apply(deltas, core_changes)
        if replace is not None:
            mirror.replace_core_state(replace)
        core = _NO_CORE
        if core_changes is not None and not full:
            # the mirror's copies of the changed calls (None: removed), not the caller's dicts
            merged = mirror.core_state
            assert merged is not None
            changed = {cid: merged["calls"].get(cid) for cid in core_changes["calls"]}
            core = _core_args("merge", merged, changed)
        touches_core = core_changes is not None or replace is not None
        async with self._write_lock:
            if self._catch_up is not None:  # Redis is behind: keep the order, queue behind the rest
                self._queue(fresh)
                self._core_behind = self._core_behind or touches_core
                return
            if touches_core and (full or self._core_behind):
                core = _full_core_args(mirror.core_state)  # as of now: later merges only repeat it
            try:
                await self._append(args=[self.prefix, mirror.epoch, self.log_length, *core,
                                         *self._args(fresh)])
            except _DOWN as err:
                log.warning("redis write failed, continuing in memory: %s", err)
                self.stats.redis_failures += 1
                self._queue(fresh)
                self._core_behind = self._core_behind or touches_core
                self._start_catch_up()
                return
            if core[0] == "replace":
                self._core_behind = False

    def _queue(self, deltas: list[Delta]) -> None:
        self._pending.extend(deltas)
        if len(self._pending) > self.pending_limit:
            self._pending.clear()  # bounded memory: the mirror has it all, rewrite Redis from it
            self._reseed = True

    def _start_catch_up(self) -> None:
        if self._catch_up is None:
            self.stats.fallback_active = True
            self._catch_up = asyncio.create_task(self._catch_up_loop(), name="redis-catch-up")

    async def _catch_up_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            async with self._write_lock:  # appends queue behind us meanwhile
                try:
                    while self._pending or self._reseed or self._core_behind:
                        await self._catch_up_step()
                except _DOWN as err:
                    log.info("redis still unavailable: %s", err)
                    continue
                self._catch_up = None
                self.stats.fallback_active = False
                log.info("redis caught up")
                return

    async def _catch_up_step(self) -> None:
        assert self._mirror is not None
        mirror = self._mirror
        if not self._reseed and await self.redis.get(f"{self.prefix}:epoch") != mirror.epoch:
            self._reseed = True
        if self._reseed:
            await self._reseed_from(mirror)
            return
        batch = list(itertools.islice(self._pending, self.replay_chunk))
        last = len(batch) == len(self._pending)  # the full core state goes with the last deltas
        await self._append(args=[self.prefix, mirror.epoch, self.log_length,
                                 *(_full_core_args(mirror.core_state) if last else _NO_CORE),
                                 *self._args(batch)])
        for _ in batch:
            self._pending.popleft()
        if last:
            self._core_behind = False
        self.stats.replayed += len(batch)

    async def _reseed_from(self, mirror: MemoryStore) -> None:
        """Rewrite Redis from the mirror, same epoch, then publish what followers have missed."""
        p = self.prefix
        missed = list(self._pending)
        async with self.redis.pipeline(transaction=True) as tx:
            tx.delete(f"{p}:seq")
            for dn, state in mirror.dns.items():
                tx.delete(f"{p}:calls:{dn}", f"{p}:log:{dn}")
                tx.hset(f"{p}:seq", dn, state.seq)
                if state.calls:
                    tx.hset(f"{p}:calls:{dn}", mapping={k: d.encode() for k, d in state.calls.items()})
                if state.log:
                    tx.rpush(f"{p}:log:{dn}", *(d.encode() for d in state.log))
            tx.delete(f"{p}:core:meta", f"{p}:core:calls")
            if mirror.core_state is not None:
                core = mirror.core_state
                tx.set(f"{p}:core:meta", _json({"version": core.get("version"), "meta": core.get("meta")}))
                if core["calls"]:
                    tx.hset(f"{p}:core:calls", mapping={cid: _json(c) for cid, c in core["calls"].items()})
            tx.set(f"{p}:epoch", mirror.epoch)
            for d in missed:
                tx.publish(self.channel, d.encode())
            if self._owner is not None:
                tx.set(f"{p}:owner", self._owner, px=int(self.owner_ttl * 1000))
            await tx.execute()
        self._reseed = False
        self._core_behind = False
        self._pending.clear()
        self.stats.reseeds += 1
        self.stats.replayed += len(missed)

    # ------------------------------------------------------------------ readers

    async def snapshot(self, dn: str) -> tuple[int, list[dict[str, Any]]]:
        if self._mirror is not None:
            return await self._mirror.snapshot(dn)
        try:
            epoch, seq, frames = await self._snapshot(args=[self.prefix, new_epoch(), dn])
        except _DOWN as err:
            raise StoreUnavailable(str(err)) from err
        self._epoch = epoch
        return int(seq), [json.loads(f)["call"] for f in frames]

    async def since(self, dn: str, seq: int) -> list[Delta] | None:
        if self._mirror is not None:
            return await self._mirror.since(dn, seq)
        try:
            epoch, cur, frames = await self._since(args=[self.prefix, new_epoch(), dn, seq])
        except _DOWN as err:
            raise StoreUnavailable(str(err)) from err
        self._epoch = epoch
        if seq > int(cur):
            return None
        deltas = [_delta(f) for f in frames]
        return deltas if len(deltas) == int(cur) - seq and contiguous_after(seq, deltas) else None

    async def load_core_state(self) -> dict[str, Any] | None:
        if self._mirror is not None:
            return await self._mirror.load_core_state()
        try:
            meta, calls = await self._load_core(args=[self.prefix])
        except _DOWN as err:
            raise StoreUnavailable(str(err)) from err
        return _core_from(meta, calls)

    def subscribe(self) -> Subscription:
        return _PubSubSubscription(self)

    # ------------------------------------------------------------------ ownership

    async def acquire_ownership(self, instance_id: str) -> bool:
        try:
            held = bool(await self._lease(keys=[f"{self.prefix}:owner"],
                                          args=[instance_id, int(self.owner_ttl * 1000)]))
        except _DOWN as err:
            self.stats.redis_failures += 1
            # Nobody can take the lease while Redis is down: an owner keeps running (fallback).
            log.warning("redis lease check failed: %s", err)
            return self._owner == instance_id
        if held and self._owner != instance_id:
            if self._mirror is None:
                try:
                    self._mirror = await self._load_mirror()
                except _DOWN:  # not owner until we have its state; the next renew tries again
                    self.stats.redis_failures += 1
                    return False
            self._owner = instance_id
        elif not held and self._owner == instance_id:
            await self._stop_writing()
        return held

    async def renew(self, instance_id: str) -> bool:
        return await self.acquire_ownership(instance_id)

    async def release(self, instance_id: str) -> None:
        try:
            await self._release(keys=[f"{self.prefix}:owner"], args=[instance_id])
        except _DOWN as err:
            log.warning("redis lease release failed (it will expire): %s", err)
        if self._owner == instance_id:
            await self._stop_writing()

    async def _stop_writing(self) -> None:
        """Another instance owns the stream now: drop the mirror and read Redis again."""
        self._owner = None
        if self._catch_up is not None:
            self._catch_up.cancel()
            await asyncio.gather(self._catch_up, return_exceptions=True)
            self._catch_up = None
            self.stats.fallback_active = False
        self._pending.clear()
        self._reseed = False
        self._core_behind = False
        if self._mirror is not None:
            self._epoch = self._mirror.epoch
            self._mirror = None

    async def aclose(self) -> None:
        await self._stop_writing()
        await self.redis.aclose()


class _PubSubSubscription(Subscription):
    """Follows ``{p}:deltas``; resubscribes after a Redis outage (the hub closes the clients of a
    DN whose sequence then shows a gap, and they resume from the store)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._pubsub: PubSub | None = None
        self._closed = False

    async def ready(self) -> None:
        while self._pubsub is None:
            pubsub = self._store.redis.pubsub()
            try:
                await pubsub.subscribe(self._store.channel)
                # the subscribe confirmation proves the server registered us
                while await pubsub.get_message(timeout=self._store.retry_interval) is None:
                    pass
            except _DOWN:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(self._store.retry_interval)
                continue
            self._pubsub = pubsub

    async def __anext__(self) -> Delta:
        while not self._closed:
            await self.ready()
            assert self._pubsub is not None
            try:
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except _DOWN as err:
                log.info("redis subscription lost, resubscribing: %s", err)
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
                self._pubsub = None
                continue
            if msg is not None and msg["type"] == "message":
                return _delta(msg["data"])
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self._closed = True
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
