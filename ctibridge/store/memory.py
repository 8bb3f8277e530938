"""In-process store: the default for a single bridge, and the Redis store's mirror on the owner.

State lives only as long as the process, so every ``MemoryStore`` starts a new epoch. Ownership
is trivial (one process): the first instance id to ask holds it until it releases.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

from ctibridge.core.deltas import Delta
from ctibridge.core.snapshot import merge_state
from ctibridge.store.port import STORED, DnState, StateStore, StoreStats, Subscription

DEFAULT_LOG_LENGTH = 1000


def new_epoch() -> str:
    return uuid.uuid4().hex[:16]


def json_copy(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy through JSON: the store never shares a dict with its caller, and holds exactly
    what a JSON store (Redis) would hand back."""
    copied: dict[str, Any] = json.loads(json.dumps(value, separators=(",", ":")))
    return copied


class MemoryStore(StateStore):
    def __init__(self, *, log_length: int = DEFAULT_LOG_LENGTH, epoch: str | None = None) -> None:
        self.log_length = log_length
        self.stats = StoreStats()
        self._epoch = epoch or new_epoch()
        self.dns: dict[str, DnState] = {}
        # The correlator's full state (export_state() shape), merged with every change since.
        # Only this store holds it (copied in, copied out), so merging in place is safe.
        self.core_state: dict[str, Any] | None = None
        # Subscribers are in-process consumers that never block (the hub's fan-out), so their
        # queues stay short; unbounded here rather than silently dropping a delta.
        self._subscribers: set[asyncio.Queue[Delta]] = set()
        self._owner: str | None = None

    @property
    def epoch(self) -> str:
        return self._epoch

    def dn(self, dn: str) -> DnState:
        state = self.dns.get(dn)
        if state is None:
            state = self.dns[dn] = DnState(self.log_length)
        return state

    def apply(self, deltas: Sequence[Delta], core_changes: dict[str, Any] | None = None) -> list[Delta]:
        """Apply a batch synchronously (atomic by construction); returns the deltas that were new.
        ``core_changes`` is merged into the core state (O(changed calls))."""
        fresh = [d for d in deltas if self.dn(d.dn).apply(d)]
        if core_changes is not None:
            # the caller hands over the change set (export_changes builds it afresh): no copy needed.
            self.core_state = merge_state(self.core_state, core_changes)
        return fresh

    def submit(self, deltas: Sequence[Delta], *,
               core_changes: dict[str, Any] | None = None) -> Awaitable[None]:
        for delta in self.apply(deltas, core_changes):
            for queue in self._subscribers:
                queue.put_nowait(delta)
        return STORED

    async def snapshot(self, dn: str) -> tuple[int, list[dict[str, Any]]]:
        state = self.dns.get(dn)
        return (state.seq, state.live_calls()) if state else (0, [])

    async def since(self, dn: str, seq: int) -> list[Delta] | None:
        state = self.dns.get(dn)
        if state is None:
            return [] if seq == 0 else None
        return state.since(seq)

    async def save_core_state(self, state: dict[str, Any]) -> None:
        self.replace_core_state(state)

    def replace_core_state(self, state: dict[str, Any]) -> None:
        """Replace the core state with (a copy of) ``state``, a full ``export_state()``."""
        self.core_state = json_copy(state)

    async def load_core_state(self) -> dict[str, Any] | None:
        return json_copy(self.core_state) if self.core_state is not None else None

    def subscribe(self) -> Subscription:
        return _QueueSubscription(self._subscribers)

    async def acquire_ownership(self, instance_id: str) -> bool:
        if self._owner is None:
            self._owner = instance_id
        return self._owner == instance_id

    async def renew(self, instance_id: str) -> bool:
        return self._owner == instance_id

    async def release(self, instance_id: str) -> None:
        if self._owner == instance_id:
            self._owner = None

    async def aclose(self) -> None:
        self._subscribers.clear()


class _QueueSubscription(Subscription):
    def __init__(self, registry: set[asyncio.Queue[Delta]]) -> None:
        self._registry = registry
        self._queue: asyncio.Queue[Delta] = asyncio.Queue()
        registry.add(self._queue)  # listening from the call on

    async def ready(self) -> None:
        return None

    async def __anext__(self) -> Delta:
        if self._queue not in self._registry:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        self._registry.discard(self._queue)
