"""The live service's per-call timeline index: ``/calls/{id}/timeline`` answers from it in time
proportional to the call's own rows, whatever the size (or rotation) of the event log.

It observes every record the service writes to its event log (``EventLogWriter(observers=...)``)
and files each under the calls it belongs to, by the same identifiers ``timeline.ladders`` uses
offline: a widget delta (``src=bridge``) names its call and teaches the index the call's
identifiers; an AMI or GWS record goes to every call known by one of its identifiers. A record can
arrive before the delta that makes its identifier known (a Newchannel before correlation), so the
last ``recent`` records stay in a ring that a call searches when it learns new identifiers.

Memory is bounded: at most ``max_calls`` calls (the least recently active is forgotten), at most
``max_rows`` rows per call (later ones are counted, not kept), the last ``recent`` records and
``max_links`` link changes. A call keeps its drawn rows and its latest view, not the records.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from ctibridge.core.deltas import Delta
from ctibridge.logs.eventlog import Record
from ctibridge.logs.timeline import (
    Ladder,
    Row,
    call_keys,
    delta_row,
    is_link,
    record_keys,
    record_row,
    relative,
)


@dataclass(slots=True)
class _Call:
    dn: str
    view: dict[str, Any]  # the latest
    rows: list[Row] = field(default_factory=list)  # drawn when filed: the records are not kept
    keys: set[str] = field(default_factory=set)
    filed: set[int] = field(default_factory=set)  # numbers of the records in ``rows``
    truncated: int = 0


class TimelineIndex:
    def __init__(self, *, max_calls: int = 1000, max_rows: int = 500, recent: int = 1000,
                 max_links: int = 1000) -> None:
        self.max_calls, self.max_rows, self.recent = max_calls, max_rows, recent
        self._calls: OrderedDict[str, _Call] = OrderedDict()  # least recently active first
        self._owners: dict[str, set[str]] = {}  # identifier -> ids of the calls known by it
        self._recent: deque[tuple[int, Record, frozenset[str]]] = deque()  # oldest first
        self._recent_by_key: dict[str, deque[tuple[int, Record]]] = {}  # the same, by identifier
        self._links: deque[Record] = deque(maxlen=max_links)
        self._seen = 0  # records observed: numbers them

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
        self._seen += 1
        self._remember(self._seen, record, keys)
        for call_id in set().union(*(self._owners.get(key, ()) for key in keys)):
            self._file(self._calls[call_id], self._seen, record)

    def dn_of(self, call_id: str) -> str | None:
        call = self._calls.get(call_id)
        return call.dn if call is not None else None

    def ladder(self, call_id: str) -> Ladder | None:
        call = self._calls.get(call_id)
        if call is None:
            return None
        return Ladder(call_id, relative(call.rows, self._links), call.view, call.truncated)

    def __len__(self) -> int:
        return len(self._calls)

    def _on_delta(self, delta: Delta) -> None:
        call_id = str(delta.call.get("id"))
        call = self._calls.get(call_id)
        if call is None:
            if not self.max_calls:
                return  # timelines are off
            call = self._calls[call_id] = _Call(delta.dn, delta.call)
            if len(self._calls) > self.max_calls:
                self._forget(*self._calls.popitem(last=False))
        self._calls.move_to_end(call_id)
        call.view = delta.call
        self._add(call, delta_row(delta))
        new_keys = call_keys(delta.call) - call.keys
        if not new_keys:
            return
        call.keys |= new_keys
        for key in new_keys:
            self._owners.setdefault(key, set()).add(call_id)
        for key in new_keys:  # what arrived before the call was known by these keys
            for number, record in self._recent_by_key.get(key, ()):
                self._file(call, number, record)

    def _remember(self, number: int, record: Record, keys: frozenset[str]) -> None:
        if len(self._recent) >= self.recent:
            _, _, old_keys = self._recent.popleft()
            for key in old_keys:  # first in, first out: the oldest record of each of its keys
                records = self._recent_by_key[key]
                records.popleft()
                if not records:
                    del self._recent_by_key[key]
        self._recent.append((number, record, keys))
        for key in keys:
            self._recent_by_key.setdefault(key, deque()).append((number, record))

    def _file(self, call: _Call, number: int, record: Record) -> None:
        if number not in call.filed and self._add(call, record_row(record)):
            call.filed.add(number)

    def _add(self, call: _Call, row: Row) -> bool:
        if len(call.rows) >= self.max_rows:
            call.truncated += 1
            return False
        call.rows.append(row)
        return True

    def _forget(self, call_id: str, call: _Call) -> None:
        for key in call.keys:
            owners = self._owners.get(key)
            if owners is not None:
                owners.discard(call_id)
                if not owners:
                    del self._owners[key]
