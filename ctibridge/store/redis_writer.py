"""The owner's side of ``RedisStore``: group commits behind an in-memory mirror.

``submit`` applies a batch to the mirror (the working state: the correlator's core state is merged
there) and queues its new deltas; one task commits everything queued in one ``APPEND`` script call
(a group commit: one round trip for as many batches as arrived meanwhile), then hands the stored
deltas to this instance's subscribers. Nothing reaches a widget before Redis has it, so a
successor owner (which restores from Redis) can never re-issue a sequence a widget already saw.

While Redis fails, the task retries every ``retry_interval`` with everything queued since (the
mirror keeps the bridge running; widgets wait). If Redis lost its data, or the queue outgrew
``pending_limit``, Redis is rewritten from the mirror (same epoch: the mirror holds every delta
any widget saw). Every write carries the lease's fencing token: a stale owner is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from ctibridge.core.deltas import Delta
from ctibridge.store.memory import MemoryStore
from ctibridge.store.port import STORED

if TYPE_CHECKING:
    from ctibridge.store.redis_store import RedisStore

log = logging.getLogger("ctibridge.store.redis")

NO_CORE = ["", "", "0"]  # APPEND's core part when the group leaves the core state alone


class Fenced(Exception):
    """Another instance holds the lease now: this writer's token is refused."""


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def core_args(mode: str, state: dict[str, Any], calls: dict[str, Any]) -> list[str]:
    """APPEND's core part: ``state``'s version and meta, and ``calls`` (id -> call, None = removed)."""
    args = [mode, dumps({"version": state.get("version"), "meta": state.get("meta")}), str(len(calls))]
    for cid, call in calls.items():
        args += [cid, "" if call is None else dumps(call)]
    return args


def delta_args(deltas: Sequence[Delta]) -> list[str]:
    args: list[str] = []
    for d in deltas:
        args += [d.dn, str(d.seq), str(d.call["id"]), d.op.value, d.encode()]
    return args


class Writer:
    def __init__(self, store: RedisStore, mirror: MemoryStore, *, token: str, instance: str | None,
                 on_fenced: Callable[[], None]) -> None:
        self.store, self.mirror, self.token, self.instance = store, mirror, token, instance
        self.on_fenced = on_fenced
        self.pending: deque[Delta] = deque()  # applied to the mirror, not acknowledged by Redis
        self.committed = {dn: state.seq for dn, state in mirror.dns.items()}  # per DN, in Redis
        self.reseed = False  # Redis must be rewritten from the mirror
        self.core_touched = False  # the core state changed since the last commit
        self.core_full = True  # ... and the next commit writes all of it (first write, version change)
        self.core_dirty: set[str] = set()  # else: the call ids changed since the last commit
        self._attempt: asyncio.Future[None] | None = None  # done when the next commit was tried
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing waits to be committed
        self._task = asyncio.create_task(self._run(), name="redis-group-commit")

    # ------------------------------------------------------------------ the pipeline's side

    def submit(self, deltas: Sequence[Delta], core_changes: dict[str, Any] | None = None,
               replace: dict[str, Any] | None = None) -> Awaitable[None]:
        mirror = self.mirror
        before = mirror.core_state
        fresh = mirror.apply(deltas, core_changes)
        if replace is not None:
            mirror.replace_core_state(replace)
        self.pending.extend(fresh)
        if core_changes is not None or replace is not None:
            self.core_touched = True
            # a change of version (or nothing stored yet) restarts the state: merge_state's rule
            if replace is not None or before is None or (
                    core_changes is not None and before.get("version") != core_changes.get("version")):
                self.core_full = True
            elif core_changes is not None:
                self.core_dirty.update(core_changes["calls"])
        if len(self.pending) > self.store.pending_limit:
            self.pending.clear()  # bounded memory: the mirror has it all, rewrite Redis from it
            self.reseed = True
        self._idle.clear()
        self._wake.set()
        if self.store.stats.fallback_active:
            return STORED  # queued for when Redis answers again; the caller goes on meanwhile
        if self._attempt is None:
            self._attempt = asyncio.get_running_loop().create_future()
        return self._attempt

    def settled(self, dn: str) -> bool:
        """Redis holds everything the mirror has for ``dn``: reads may come from the mirror."""
        state = self.mirror.dns.get(dn)
        return not self.reseed and (state is None or state.seq == self.committed.get(dn, 0))

    async def drain(self) -> None:
        """Wait until everything submitted so far is in Redis (the caller bounds the wait)."""
        await self._idle.wait()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._resolve()
        self.store.stats.fallback_active = False

    # ------------------------------------------------------------------ the commit task

    def _busy(self) -> bool:
        return bool(self.pending or self.reseed or self.core_touched or self._attempt)

    def _resolve(self) -> None:
        attempt, self._attempt = self._attempt, None
        if attempt is not None and not attempt.done():
            attempt.set_result(None)

    async def _run(self) -> None:
        stats = self.store.stats
        while True:
            if not self._busy():
                self._idle.set()
            await self._wake.wait()
            self._wake.clear()
            while self._busy():
                attempt, self._attempt = self._attempt, None  # later batches wait for the next one
                try:
                    await self._commit()
                except Fenced:
                    log.error("another instance holds the lease: this one stops writing")
                    if attempt is not None:
                        attempt.set_result(None)
                    self._resolve()
                    self.on_fenced()
                    return
                except self.store.down_errors as err:
                    if not stats.fallback_active:
                        log.warning("redis write failed, continuing in memory: %s", err)
                    stats.redis_failures += 1
                    stats.fallback_active = True
                    self.core_full = self.core_full or self.core_touched
                    if attempt is not None:
                        attempt.set_result(None)
                    await asyncio.sleep(self.store.retry_interval)
                    continue
                if attempt is not None:
                    attempt.set_result(None)
                if stats.fallback_active:
                    stats.fallback_active = False
                    log.info("redis caught up")

    async def _commit(self) -> None:
        token = self.token
        try:
            if self.reseed:
                await self.store.reseed_from(self)
                return
            await self._append_group()
        except ResponseError as err:
            if "FENCED" in str(err):
                if token != self.token:
                    return  # this instance took the lapsed lease again meanwhile: retry with its token
                raise Fenced from err
            if "EPOCH" not in str(err):
                raise
            self.reseed = True  # Redis lost its data (or another stream began): rewrite it
            await self.store.reseed_from(self)

    async def _append_group(self) -> None:
        batch = list(self.pending)
        core = NO_CORE
        if self.core_touched and self.mirror.core_state is not None:
            state = self.mirror.core_state
            if self.core_full:
                core = core_args("replace", state, state["calls"])
            else:
                core = core_args("merge", state, {cid: state["calls"].get(cid) for cid in self.core_dirty})
        touched, full, dirty = self.core_touched, self.core_full, self.core_dirty
        self.core_touched, self.core_full, self.core_dirty = False, False, set()
        try:
            await self.store.append_script(args=[self.store.prefix, self.mirror.epoch, self.token,
                                                 self.store.log_length, *core, *delta_args(batch)])
        except BaseException:
            # what changed since is merged back in: the retry writes both (a full state if needed)
            self.core_touched = self.core_touched or touched
            self.core_full = self.core_full or full
            self.core_dirty |= dirty
            raise
        if self.store.stats.fallback_active:
            self.store.stats.replayed += len(batch)
        self.stored(batch)

    def stored(self, batch: list[Delta]) -> None:
        """``batch`` (the oldest pending deltas) is in Redis: hand it to this instance's widgets."""
        for _ in batch:
            self.pending.popleft()
        for delta in batch:
            self.committed[delta.dn] = delta.seq
        self.store.deliver(batch)
