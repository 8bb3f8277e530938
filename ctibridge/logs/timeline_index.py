"""The live service's per-call timeline index: ``/calls/{id}/timeline`` answers from it in time
proportional to the call's own rows, whatever the size (or rotation) of the event log.

It observes every record the service writes to its event log (``EventLogWriter(observers=...)``)
and files each under the calls it belongs to, by the same identifiers ``timeline.ladders`` uses
offline: a widget delta (``src=bridge``) names its call and teaches the index the call's
identifiers; an AMI or GWS record goes to every call known by one of its identifiers. A record can
arrive before the delta that makes its identifier known (a Newchannel before correlation), so the
last ``recent`` records stay in a ring that a call searches when it learns new identifiers.

Memory is bounded: at most ``max_calls`` calls (the least recently active is forgotten), at most
``max_rows`` records and deltas per call (later ones are counted, not kept), ``recent`` unfiled
records and ``max_links`` link changes.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from ctibridge.core.deltas import Delta
from ctibridge.logs.eventlog import Record
from ctibridge.logs.timeline import Ladder, call_keys, is_link, ladder_rows, record_keys


@dataclass(slots=True)
class _Call:
    dn: str
    records: list[Record] = field(default_factory=list)
    deltas: list[Delta] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    filed: set[int] = field(default_factory=set)  # id() of the records in ``records``
    truncated: int = 0


class TimelineIndex:
    def __init__(self, *, max_calls: int = 2000, max_rows: int = 2000, recent: int = 4000,
                 max_links: int = 1000) -> None:
        self.max_calls, self.max_rows = max_calls, max_rows
        self._calls: OrderedDict[str, _Call] = OrderedDict()  # least recently active first
        self._owners: dict[str, set[str]] = {}  # identifier -> ids of the calls known by it
        self.recent = recent
        self._recent: deque[tuple[Record, frozenset[str]]] = deque()  # oldest first
        self._recent_by_key: dict[str, deque[Record]] = {}  # the same records, by identifier
        self._links: deque[Record] = deque(maxlen=max_links)

    def observe(self, record: Record) -> None:
        """File one event-log record (the writer's observer)."""
        if record.src == "bridge":
            if record.msg.get("type") == "delta":
                self._on_delta(Delta.from_message(record.msg))
            return
        if is_link(record):
            self._links.append(record)
            return
        keys = frozenset(record_keys(record))
        if not keys:
            return
        self._remember(record, keys)
        for call_id in set().union(*(self._owners.get(key, ()) for key in keys)):
            self._file(self._calls[call_id], record)

    def dn_of(self, call_id: str) -> str | None:
        call = self._calls.get(call_id)
        return call.dn if call is not None else None

    def ladder(self, call_id: str) -> Ladder | None:
        call = self._calls.get(call_id)
        if call is None or not call.deltas:
            return None
        rows = ladder_rows(call.records, self._links, call.deltas)
        return Ladder(call_id, rows, call.deltas[-1].call, call.truncated)

    def __len__(self) -> int:
        return len(self._calls)

    def _on_delta(self, delta: Delta) -> None:
        call_id = str(delta.call.get("id"))
        call = self._calls.get(call_id)
        if call is None:
            call = self._calls[call_id] = _Call(delta.dn)
            if len(self._calls) > self.max_calls:
                self._forget(*self._calls.popitem(last=False))
        self._calls.move_to_end(call_id)
        if len(call.deltas) + len(call.records) < self.max_rows:
            call.deltas.append(delta)
        else:
            call.truncated += 1
        new_keys = call_keys(delta.call) - call.keys
        if not new_keys:
            return
        call.keys |= new_keys
        for key in new_keys:
            self._owners.setdefault(key, set()).add(call_id)
        for key in new_keys:  # what arrived before the call was known by these keys
            for record in self._recent_by_key.get(key, ()):
                self._file(call, record)

    def _remember(self, record: Record, keys: frozenset[str]) -> None:
        if len(self._recent) >= self.recent:
            _, old_keys = self._recent.popleft()
            for key in old_keys:  # first in, first out: the oldest record of each of its keys
                records = self._recent_by_key[key]
                records.popleft()
                if not records:
                    del self._recent_by_key[key]
        self._recent.append((record, keys))
        for key in keys:
            self._recent_by_key.setdefault(key, deque()).append(record)

    def _file(self, call: _Call, record: Record) -> None:
        if id(record) in call.filed:
            return
        if len(call.deltas) + len(call.records) >= self.max_rows:
            call.truncated += 1
            return
        call.filed.add(id(record))
        call.records.append(record)

    def _forget(self, call_id: str, call: _Call) -> None:
        for key in call.keys:
            owners = self._owners.get(key)
            if owners is not None:
                owners.discard(call_id)
                if not owners:
                    del self._owners[key]
