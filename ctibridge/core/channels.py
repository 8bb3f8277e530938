"""The Asterisk channels the correlator tracks: their last block, the calls each belongs to, the
bridge each sits in, and the channels that ended or were listed in a resync.

Bridge membership is kept both ways (bridge -> members, channel -> bridge), so a channel leaving,
ending or being looked up never scans every bridge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ctibridge.core.events import Channel
from ctibridge.core.model import Call

ENDED_MEMORY = 10_000  # ended channels remembered to ignore their late events


@dataclass(slots=True)
class ChannelRecord:
    channel: Channel
    calls: set[str] = field(default_factory=set)  # ids of the calls this channel is a leg of
    left: Call | None = None  # the last call it was a leg of, once that ended (a transferred customer)


def remember(memory: dict[object, None], key: object) -> None:
    """Add ``key`` to a bounded, oldest-first memory."""
    memory[key] = None
    if len(memory) > ENDED_MEMORY:
        del memory[next(iter(memory))]


class ChannelTable:
    def __init__(self) -> None:
        self._records: dict[str, ChannelRecord] = {}
        self._members: dict[str, set[str]] = {}  # bridge id -> channel uniqueids
        self._bridge_of: dict[str, str] = {}  # channel uniqueid -> bridge id
        self._ended: dict[object, None] = {}
        self._listed: set[str] | None = None  # during a resync: the channels listed so far
        self._locals: dict[str, str] = {}  # name -> uniqueid of each half of a Local channel pair

    # ---------------------------------------------------------------- records

    def get(self, uid: str) -> ChannelRecord | None:
        return self._records.get(uid)

    def ended(self, uid: str) -> bool:
        return uid in self._ended

    def upsert(self, ch: Channel) -> tuple[ChannelRecord, bool]:
        """The record of ``ch`` with its latest block; True when it is new."""
        rec = self._records.get(ch.uniqueid)
        if rec is None:
            rec = self._records[ch.uniqueid] = ChannelRecord(ch)
            if ch.name.startswith("Local/"):
                self._locals[ch.name] = ch.uniqueid
            return rec, True
        rec.channel = ch
        return rec, False

    def end(self, uid: str) -> ChannelRecord | None:
        """The channel hung up: forget it (its late events are ignored from now on)."""
        remember(self._ended, uid)
        self.leave(uid)
        rec = self._records.pop(uid, None)
        if rec is not None and self._locals.get(rec.channel.name) == uid:
            del self._locals[rec.channel.name]
        return rec

    def twin(self, rec: ChannelRecord) -> ChannelRecord | None:
        """The other half of a Local channel pair (``Local/x@ctx-00000001;1`` and ``;2``): media
        passes between the two, so what is bridged with one is connected to what is bridged with
        the other."""
        name = rec.channel.name
        if not name.startswith("Local/") or name[-2:] not in (";1", ";2"):
            return None
        uid = self._locals.get(name[:-1] + ("2" if name.endswith("1") else "1"))
        return self._records.get(uid) if uid is not None else None

    def uids(self) -> list[str]:
        return list(self._records)

    def __iter__(self) -> Iterator[ChannelRecord]:
        return iter(self._records.values())

    # ---------------------------------------------------------------- bridges

    def enter(self, uid: str, bridge_id: str) -> None:
        if self._bridge_of.get(uid) != bridge_id:
            self.leave(uid)
            self._bridge_of[uid] = bridge_id
            self._members.setdefault(bridge_id, set()).add(uid)

    def leave(self, uid: str) -> None:
        bridge_id = self._bridge_of.pop(uid, None)
        if bridge_id is not None:
            members = self._members[bridge_id]
            members.discard(uid)
            if not members:
                del self._members[bridge_id]

    def bridge_of(self, uid: str) -> str:
        return self._bridge_of.get(uid, "")

    def members(self, bridge_id: str) -> set[str]:
        return self._members.get(bridge_id, set())

    def bridged_with(self, uid: str) -> list[ChannelRecord]:
        """The tracked channels in the same bridge as ``uid``."""
        others = self.members(self.bridge_of(uid)) - {uid}
        return [rec for other in others if (rec := self._records.get(other)) is not None]

    # ---------------------------------------------------------------- resync

    def begin_resync(self) -> None:
        self._listed = set()

    def listed(self, uid: str) -> None:
        if self._listed is not None:
            self._listed.add(uid)

    def end_resync(self) -> list[str]:
        """The channels a finished resync did not list: they ended while the link was down."""
        if self._listed is None:
            return []
        unlisted = [uid for uid in self._records if uid not in self._listed]
        self._listed = None
        return unlisted
