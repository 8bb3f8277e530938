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
``{p}:fence``          integer  lease acquisitions so far
``{p}:token``          string   the owner's fencing token, ``<fence>:<instance id>``
``{p}:deltas``         pub/sub  every applied frame, for followers
=====================  =======  ==========================================================

A group of batches is applied by one Lua script (``redis_scripts.APPEND``: atomic, idempotent per
seq, refused without the current fencing token, publishes what it applied), together with its core
state changes: the meta is rewritten and only the changed calls are set or deleted, so a group
costs O(changed calls), not O(live calls).

The writer (the owner) keeps a ``MemoryStore`` mirror and commits in groups (``redis_writer``);
this instance's widgets get a delta once Redis has it, from a local queue (no round trip through
Redis pub/sub), and reads come from the mirror for a DN whose deltas are all in Redis, else from
Redis. Followers read Redis directly and follow ``{p}:deltas``; all raise ``StoreUnavailable``
while Redis cannot answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Sequence
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
    STORED,
    StateStore,
    StoreStats,
    StoreUnavailable,
    Subscription,
    contiguous_after,
    decode_frame,
)
from ctibridge.store.redis_writer import Fenced, Writer, dumps

log = logging.getLogger(__name__)

_DOWN = (RedisError, OSError, asyncio.TimeoutError)


def _core_from(meta: str, calls: Sequence[str] | dict[str, str]) -> dict[str, Any] | None:
    """The full state from ``{p}:core:meta`` and ``{p}:core:calls`` (a dict, or HGETALL's flat list)."""
    if not meta:
        return None
    pairs = calls.items() if isinstance(calls, dict) else zip(calls[::2], calls[1::2], strict=True)
    state: dict[str, Any] = json.loads(meta)
    state["calls"] = {cid: json.loads(text) for cid, text in pairs}
    return state


def _fence(token: str) -> int:
    """The acquisition count of a fencing token (``<n>:<instance id>``)."""
    count, _, _ = token.partition(":")
    return int(count) if count.isdigit() else 0


class RedisStore(StateStore):
    down_errors = _DOWN

    def __init__(self, url: str, *, prefix: str = "ctibridge", log_length: int = DEFAULT_LOG_LENGTH,
                 owner_ttl: float = defaults.OWNERSHIP_TTL_S, socket_timeout: float = 1.0,
                 pending_limit: int = 100_000,
                 retry_interval: float = 0.2) -> None:
        self.url = url
        self.prefix = prefix
        self.log_length = log_length
        self.owner_ttl = owner_ttl
        self.pending_limit = pending_limit
        self.retry_interval = retry_interval
        self.stats = StoreStats()
        self.redis: Redis = Redis.from_url(
            url, protocol=2, decode_responses=True, socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout, retry=Retry(NoBackoff(), 0))
        self.append_script = self.redis.register_script(scripts.APPEND)
        self._snapshot = self.redis.register_script(scripts.SNAPSHOT)
        self._since = self.redis.register_script(scripts.SINCE)
        self._dump = self.redis.register_script(scripts.DUMP)
        self._load_core = self.redis.register_script(scripts.LOAD_CORE)
        self._lease = self.redis.register_script(scripts.LEASE)
        self._release = self.redis.register_script(scripts.RELEASE)
        self._epoch = ""
        self._owner: str | None = None
        self._writer: Writer | None = None
        self._fenced = False  # the writer was refused: say "not owner" once, so the role restarts
        self._local: set[asyncio.Queue[Delta]] = set()  # this instance's subscribers (writer side)

    @property
    def epoch(self) -> str:
        return self._writer.mirror.epoch if self._writer is not None else self._epoch

    @property
    def writing(self) -> bool:
        return self._writer is not None

    @property
    def channel(self) -> str:
        return f"{self.prefix}:deltas"

    # ------------------------------------------------------------------ writer

    async def _become_writer(self, token: str = "", instance: str | None = None) -> Writer:
        """The writer; its mirror loaded from Redis the first time. Redis down then: start empty
        and rewrite Redis when it returns (an owner never gets here that way: it loads on acquiring)."""
        if self._writer is None:
            try:
                mirror = await self._load_mirror()
                reseed = False
            except _DOWN:
                self.stats.redis_failures += 1
                mirror, reseed = MemoryStore(log_length=self.log_length), True
            self._writer = Writer(self, mirror, token=token, instance=instance, on_fenced=self._on_fenced)
            self._writer.reseed = reseed
        return self._writer

    async def _load_mirror(self) -> MemoryStore:
        dump = await self._dump(args=[self.prefix, new_epoch()])
        mirror = MemoryStore(log_length=self.log_length, epoch=dump[0])
        mirror.core_state = _core_from(dump[1], dump[2])
        for i in range(3, len(dump), 4):
            state = mirror.dn(dump[i])
            state.log.extend(frame.encode() for frame in dump[i + 1])
            calls = dump[i + 2]
            state.calls = {cid: frame.encode() for cid, frame in zip(calls[::2], calls[1::2], strict=True)}
            state.seq = int(dump[i + 3])
        return mirror

    def submit(self, deltas: Sequence[Delta], *,
               core_changes: dict[str, Any] | None = None) -> Awaitable[None]:
        if self._writer is None:
            # the lease was lost and the pipeline has not stopped yet: a non-owner never writes
            self.stats.dropped += len(deltas)
            log.warning("not the owner any more: %d deltas dropped (never shown to a widget)", len(deltas))
            return STORED
        return self._writer.submit(deltas, core_changes)

    async def append(self, deltas: Sequence[Delta], *, core_changes: dict[str, Any] | None = None) -> None:
        writer = await self._become_writer()
        await writer.submit(deltas, core_changes)

    async def save_core_state(self, state: dict[str, Any]) -> None:
        writer = await self._become_writer()
        await writer.submit((), replace=state)

    def deliver(self, deltas: list[Delta]) -> None:
        """Stored deltas to this instance's subscribers."""
        for queue in self._local:
            for delta in deltas:
                queue.put_nowait(delta)

    async def reseed_from(self, writer: Writer) -> None:
        """Rewrite Redis from the mirror, same epoch (the mirror holds every delta any widget
        saw), then publish what followers have missed. Refused when another instance holds the
        lease or its token (checked in the transaction)."""
        p, mirror = self.prefix, writer.mirror
        missed = list(writer.pending)
        async with self.redis.pipeline(transaction=True) as tx:
            await tx.watch(f"{p}:owner", f"{p}:token")
            owner, token = await tx.get(f"{p}:owner"), await tx.get(f"{p}:token")
            if owner not in (None, writer.instance) or token not in (None, writer.token):
                raise Fenced(f"lease held by {owner!r}")
            tx.multi()  # type: ignore[no-untyped-call]
            tx.delete(f"{p}:seq")
            for dn, state in mirror.dns.items():
                tx.delete(f"{p}:calls:{dn}", f"{p}:log:{dn}")
                tx.hset(f"{p}:seq", dn, state.seq)
                if state.calls:
                    tx.hset(f"{p}:calls:{dn}", mapping={cid: f for cid, f in state.calls.items()})
                if state.log:
                    tx.rpush(f"{p}:log:{dn}", *state.log)
            tx.delete(f"{p}:core:meta", f"{p}:core:calls")
            if mirror.core_state is not None:
                core = mirror.core_state
                tx.set(f"{p}:core:meta", dumps({"version": core.get("version"), "meta": core.get("meta")}))
                if core["calls"]:
                    tx.hset(f"{p}:core:calls", mapping={cid: dumps(c) for cid, c in core["calls"].items()})
            tx.set(f"{p}:epoch", mirror.epoch)
            for d in missed:
                tx.publish(self.channel, d.encode())
            if writer.token:
                tx.set(f"{p}:token", writer.token)
            if writer.instance is not None:
                tx.set(f"{p}:owner", writer.instance, px=int(self.owner_ttl * 1000))
            await tx.execute()
        writer.reseed = writer.core_touched = writer.core_full = False
        writer.core_dirty = set()
        writer.committed = {dn: state.seq for dn, state in mirror.dns.items()}
        self.stats.reseeds += 1
        self.stats.replayed += len(missed)
        writer.stored(missed)

    def _on_fenced(self) -> None:
        self._fenced = True
        writer, self._writer, self._owner = self._writer, None, None
        if writer is not None:
            self._epoch = writer.mirror.epoch

    # ------------------------------------------------------------------ readers

    async def snapshot(self, dn: str) -> tuple[int, list[dict[str, Any]]]:
        writer = self._writer
        if writer is not None and writer.settled(dn):
            return await writer.mirror.snapshot(dn)
        try:
            epoch, seq, frames = await self._snapshot(args=[self.prefix, new_epoch(), dn])
        except _DOWN as err:
            raise StoreUnavailable(str(err)) from err
        self._read_epoch(epoch)
        return int(seq), [json.loads(f)["call"] for f in frames]

    async def since(self, dn: str, seq: int) -> list[Delta] | None:
        writer = self._writer
        if writer is not None and writer.settled(dn):
            return await writer.mirror.since(dn, seq)
        try:
            epoch, cur, frames = await self._since(args=[self.prefix, new_epoch(), dn, seq])
        except _DOWN as err:
            raise StoreUnavailable(str(err)) from err
        self._read_epoch(epoch)
        if seq > int(cur):
            return None
        deltas = [decode_frame(f) for f in frames]
        return deltas if len(deltas) == int(cur) - seq and contiguous_after(seq, deltas) else None

    def _read_epoch(self, epoch: str) -> None:
        """A writer reading Redis must find its own stream there (not yet rewritten: wait)."""
        if self._writer is not None and epoch != self._writer.mirror.epoch:
            raise StoreUnavailable("redis is being rewritten from the owner's memory")
        self._epoch = epoch

    async def load_core_state(self) -> dict[str, Any] | None:
        if self._writer is not None:
            return await self._writer.mirror.load_core_state()
        try:
            meta, calls = await self._load_core(args=[self.prefix])
        except _DOWN as err:
            raise StoreUnavailable(str(err)) from err
        return _core_from(meta, calls)

    def subscribe(self) -> Subscription:
        return _Subscription(self)

    # ------------------------------------------------------------------ ownership

    async def acquire_ownership(self, instance_id: str) -> bool:
        if self._fenced:  # refused a write: this tenure is over, whatever the lease says now
            self._fenced = False
            return False
        try:
            token, epoch = await self._lease(args=[self.prefix, instance_id, int(self.owner_ttl * 1000)])
        except _DOWN as err:
            self.stats.redis_failures += 1
            # Nobody can take the lease while Redis is down: an owner keeps running (fallback).
            log.warning("redis lease check failed: %s", err)
            return self._owner == instance_id
        writer = self._writer
        if not token:
            if self._owner == instance_id:
                await self._stop_writing()
            return False
        if self._owner == instance_id and writer is not None:
            if token != writer.token:
                # The lease lapsed (e.g. Redis stalled) and was taken again. Our stream goes on
                # only if nobody else held it meanwhile, or Redis lost the stream anyway.
                if _fence(token) != _fence(writer.token) + 1 and epoch == writer.mirror.epoch:
                    log.warning("%s: the lease was held by another instance meanwhile", instance_id)
                    await self._stop_writing()
                    return False
                writer.token = token
            return True
        if writer is None:
            try:
                self._writer = Writer(self, await self._load_mirror(), token=token, instance=instance_id,
                                      on_fenced=self._on_fenced)
            except _DOWN:  # not owner until we have its state; the next renew tries again
                self.stats.redis_failures += 1
                return False
        else:
            writer.token, writer.instance = token, instance_id
        self._owner = instance_id
        return True

    async def renew(self, instance_id: str) -> bool:
        return await self.acquire_ownership(instance_id)

    async def release(self, instance_id: str) -> None:
        """Give the lease up; what is still queued goes to Redis first (bounded by the TTL), so a
        successor takes over at once with every delta any widget saw."""
        if self._owner == instance_id and self._writer is not None:
            try:
                async with asyncio.timeout(self.owner_ttl):
                    await self._writer.drain()
            except TimeoutError:
                log.warning("redis did not take the last deltas before the lease was released")
        try:
            await self._release(keys=[f"{self.prefix}:owner"], args=[instance_id])
        except _DOWN as err:
            log.warning("redis lease release failed (it will expire): %s", err)
        if self._owner == instance_id:
            await self._stop_writing()

    async def _stop_writing(self) -> None:
        """Another instance owns the stream now: drop the mirror and read Redis again. What was not
        stored yet was never shown to a widget, so dropping it loses nothing anyone saw."""
        writer, self._writer, self._owner = self._writer, None, None
        if writer is not None:
            await writer.stop()
            self._epoch = writer.mirror.epoch

    async def aclose(self) -> None:
        await self._stop_writing()
        await self.redis.aclose()


class _Subscription(Subscription):
    """This instance's writer delivers its stored deltas locally; otherwise ``{p}:deltas`` is
    followed, resubscribing after a Redis outage (the hub closes the clients of a DN whose
    sequence then shows a gap, and they resume from the store)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._queue: asyncio.Queue[Delta] = asyncio.Queue()
        store._local.add(self._queue)  # listening from the call on
        self._pubsub: PubSub | None = None
        self._closed = False

    async def ready(self) -> None:
        while self._pubsub is None and not self._store.writing:
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
            if not self._queue.empty():
                return self._queue.get_nowait()
            if self._store.writing:
                await self._drop_pubsub()  # the writer's own deltas come from the queue
                try:
                    return await asyncio.wait_for(self._queue.get(), 1.0)
                except TimeoutError:
                    continue  # look again: this instance may have stopped writing
            await self.ready()
            if self._pubsub is None:
                continue
            try:
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except _DOWN as err:
                log.info("redis subscription lost, resubscribing: %s", err)
                await self._drop_pubsub()
                continue
            if msg is not None and msg["type"] == "message":
                return decode_frame(msg["data"])
        raise StopAsyncIteration

    async def _drop_pubsub(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None

    async def aclose(self) -> None:
        self._closed = True
        self._store._local.discard(self._queue)
        await self._drop_pubsub()
