"""The state store port: what the pipeline and the hub need from any store.

The owner instance (the one holding the AMI/GWS connections) calls ``append`` for every batch of
deltas the correlator produced, before the hub publishes them; every instance serves widgets from
``snapshot``/``since`` and learns of new deltas through ``subscribe``. Per DN the store keeps the
sequence number, the live calls (last view of each call not yet removed) and a bounded log of the
last ``log_length`` deltas, so a reconnecting widget gets exactly what it missed.

Semantics shared by every adapter (one test suite, ``tests/store/``, runs on all of them):

* ``epoch`` names the stream: it changes only when the store's state was lost, which tells a
  client its ``since`` is meaningless and it must take a snapshot.
* ``append`` is idempotent and ordered per DN: a delta whose ``seq`` is not above the DN's current
  sequence is ignored; one that skips ahead clears the DN's log (``since`` cannot cross a gap).
* ``since(dn, seq)`` returns the deltas ``seq+1 .. current`` in order, ``[]`` when up to date, or
  ``None`` when they are not all kept any more (or ``seq`` is ahead): the client re-snapshots.
* ``subscribe()`` yields the deltas appended from now on by any instance sharing the store.
* Ownership (scale-out): ``acquire_ownership``/``renew`` return whether ``instance_id`` holds the
  lease; ``release`` gives it up. See ``ctibridge.store.ownership.ownership_changes``.
* Core state (the correlator's, so a successor owner continues the same calls and sequences) is
  persisted incrementally: ``append(deltas, core_changes=correlator.export_changes())`` saves the
  calls changed since the previous export (``None`` = removed) and the small ``meta`` atomically
  with the batch, folded into what is stored as ``ctibridge.core.snapshot.merge_state`` does
  (O(changed calls), not O(live calls)). ``save_core_state(correlator.export_state())`` replaces
  everything with a full state (a new owner taking over). ``load_core_state()`` returns the full
  state (``export_state()`` shape: everything saved and merged so far) as a fresh copy, or None.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ctibridge.core.deltas import Delta, Op


class StoreUnavailable(Exception):
    """The store cannot answer a read now (e.g. Redis down on a follower)."""


@dataclass
class StoreStats:
    """Counters for metrics (read by the web room)."""

    redis_failures: int = 0  # write or renew attempts that failed
    fallback_active: bool = False  # the owner runs on its in-memory mirror, Redis not up to date
    replayed: int = 0  # deltas written to Redis late, after an outage
    reseeds: int = 0  # full rewrites of Redis from memory (Redis came back empty)


class StateStore(ABC):
    stats: StoreStats

    @property
    @abstractmethod
    def epoch(self) -> str:
        """Identity of the stream, as of the last read or write."""

    @abstractmethod
    async def append(self, deltas: Sequence[Delta], *, core_changes: dict[str, Any] | None = None) -> None:
        """Persist one batch (atomically). ``core_changes`` (an ``export_changes()`` result), when
        given, is merged into the stored core state in the same step, so a successor owner restores
        a correlator that matches the stored sequences exactly."""

    @abstractmethod
    async def snapshot(self, dn: str) -> tuple[int, list[dict[str, Any]]]:
        """The DN's sequence and its live calls as of that sequence (order unspecified)."""

    @abstractmethod
    async def since(self, dn: str, seq: int) -> list[Delta] | None: ...

    @abstractmethod
    async def save_core_state(self, state: dict[str, Any]) -> None:
        """Replace the stored core state with ``state``, a full ``export_state()``."""

    @abstractmethod
    async def load_core_state(self) -> dict[str, Any] | None:
        """The full core state (saved, then merged with every ``core_changes`` since), or None."""

    @abstractmethod
    def subscribe(self) -> Subscription:
        """Live deltas from now on; ``await sub.ready()`` before relying on "from now on"."""

    @abstractmethod
    async def acquire_ownership(self, instance_id: str) -> bool: ...

    @abstractmethod
    async def renew(self, instance_id: str) -> bool: ...

    @abstractmethod
    async def release(self, instance_id: str) -> None: ...

    @abstractmethod
    async def aclose(self) -> None: ...


class Subscription(AsyncIterator[Delta]):
    """An async iterator of live deltas that can say when it is listening and be closed."""

    @abstractmethod
    async def ready(self) -> None:
        """Returns once deltas appended from now on will be delivered."""

    @abstractmethod
    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- per-DN state


@dataclass
class DnState:
    """One DN's sequence, live calls (their last delta, so the frame is reused) and delta log."""

    log_length: int
    seq: int = 0
    calls: dict[str, Delta] = field(default_factory=dict)
    log: deque[Delta] = field(init=False)

    def __post_init__(self) -> None:
        self.log = deque(maxlen=self.log_length)

    def apply(self, delta: Delta) -> bool:
        """Apply one delta; False when it is a duplicate (not above the current sequence)."""
        if delta.seq <= self.seq:
            return False
        if delta.seq != self.seq + 1:
            self.log.clear()  # a gap: since() must not pretend it can bridge it
        call_id = str(delta.call["id"])
        if delta.op is Op.REMOVED:
            self.calls.pop(call_id, None)
        else:
            self.calls[call_id] = delta
        self.log.append(delta)
        self.seq = delta.seq
        return True

    def since(self, seq: int) -> list[Delta] | None:
        missing = self.seq - seq
        if missing < 0 or missing > len(self.log):
            return None
        return list(self.log)[len(self.log) - missing:]

    def live_calls(self) -> list[dict[str, Any]]:
        return [d.call for d in self.calls.values()]


def contiguous_after(seq: int, deltas: list[Delta]) -> bool:
    """True when ``deltas`` are exactly ``seq+1, seq+2, ...``."""
    return all(d.seq == seq + i for i, d in enumerate(deltas, start=1))
