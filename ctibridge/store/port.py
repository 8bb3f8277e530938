"""The state store port: what the pipeline and the hub need from any store.

The owner instance (the one holding the AMI/GWS connections) hands every batch of deltas the
correlator produced to ``submit`` (or ``append``, which waits for the store); every instance serves
widgets from ``snapshot``/``since`` and learns of new deltas through ``subscribe``, which yields a
delta only once it is stored: a widget never sees what a successor owner would not find. Per DN
the store keeps the sequence number, the live calls (last view of each call not yet removed) and
a bounded log of the last ``log_length`` deltas, so a reconnecting widget gets exactly what it
missed.

Semantics shared by every adapter (one test suite, ``tests/store/``, runs on all of them):

* ``epoch`` names the stream: it changes only when the store's state was lost, which tells a
  client its ``since`` is meaningless and it must take a snapshot.
* ``append`` is idempotent and ordered per DN: a delta whose ``seq`` is not above the DN's current
  sequence is ignored; one that skips ahead clears the DN's log (``since`` cannot cross a gap).
* ``since(dn, seq)`` returns the deltas ``seq+1 .. current`` in order, ``[]`` when up to date, or
  ``None`` when they are not all kept any more (or ``seq`` is ahead): the client re-snapshots.
* ``subscribe()`` yields the deltas stored from now on by any instance sharing the store.
* ``submit`` takes a batch without waiting (the Redis store commits several batches in one
  round trip); ``snapshot``/``since`` never answer with a delta that is not stored yet.
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

import json
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Generator, Sequence
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
    dropped: int = 0  # deltas a former owner's pipeline produced after it lost the lease


class StateStore(ABC):
    stats: StoreStats

    @property
    @abstractmethod
    def epoch(self) -> str:
        """Identity of the stream, as of the last read or write."""

    @abstractmethod
    def submit(self, deltas: Sequence[Delta], *,
               core_changes: dict[str, Any] | None = None) -> Awaitable[None]:
        """Take one batch to persist, atomically with ``core_changes`` (an ``export_changes()``
        result, merged into the stored core state in the same step, so a successor owner restores
        a correlator that matches the stored sequences exactly). Does not wait: batches are stored
        in order, and the result is done once this one is stored (or, while the store is down,
        queued for when it is back)."""

    async def append(self, deltas: Sequence[Delta], *, core_changes: dict[str, Any] | None = None) -> None:
        """``submit``, then wait for its result."""
        await self.submit(deltas, core_changes=core_changes)

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


class _Stored(Awaitable[None]):
    """The result of a batch stored at once (awaiting it returns at once)."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # a generator that finishes without suspending


STORED: Awaitable[None] = _Stored()


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
    """One DN's sequence, live calls and delta log, held as the encoded frames (UTF-8 bytes): a
    retained delta costs its wire size, not a tree of Python objects."""

    log_length: int
    seq: int = 0
    calls: dict[str, bytes] = field(default_factory=dict)  # call id -> frame of its last change
    log: deque[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.log = deque(maxlen=self.log_length)

    def apply(self, delta: Delta) -> bool:
        """Apply one delta; False when it is a duplicate (not above the current sequence)."""
        if delta.seq <= self.seq:
            return False
        self.apply_frame(delta.seq, str(delta.call["id"]), delta.op is Op.REMOVED, delta.encode().encode())
        return True

    def apply_frame(self, seq: int, call_id: str, removed: bool, frame: bytes) -> None:
        if seq != self.seq + 1:
            self.log.clear()  # a gap: since() must not pretend it can bridge it
        if removed:
            self.calls.pop(call_id, None)
        else:
            self.calls[call_id] = frame
        self.log.append(frame)
        self.seq = seq

    def since(self, seq: int) -> list[Delta] | None:
        missing = self.seq - seq
        if missing < 0 or missing > len(self.log):
            return None
        return [decode_frame(f) for f in list(self.log)[len(self.log) - missing:]]

    def live_calls(self) -> list[dict[str, Any]]:
        return [json.loads(f)["call"] for f in self.calls.values()]


def decode_frame(frame: bytes | str) -> Delta:
    """The delta of a stored frame; its ``encode()`` is that frame, not a new serialisation."""
    text = frame.decode() if isinstance(frame, bytes) else frame
    msg = json.loads(text)
    return Delta(dn=str(msg["dn"]), seq=int(msg["seq"]), op=Op(msg["op"]), call=dict(msg["call"]),
                 t=float(msg.get("t", 0.0)), _json=[text])


def contiguous_after(seq: int, deltas: list[Delta]) -> bool:
    """True when ``deltas`` are exactly ``seq+1, seq+2, ...``."""
    return all(d.seq == seq + i for i, d in enumerate(deltas, start=1))
