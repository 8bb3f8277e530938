"""The live calls and every way of finding one: by id, per DN in creation order, and by the keys
an event may carry (CallUUID, GWS call/connection ids, Asterisk Linkedid), each within one DN.

Keys are linked and unlinked only here; each call remembers its own keys, so removing or folding a
call costs O(its keys), never a scan of an index. Calls that have only one side are kept apart per
DN and side, so the fallback match looks at candidates only.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from ctibridge.core.channels import remember
from ctibridge.core.model import Call


class Key(StrEnum):
    UUID = "uuid"  # X-Genesys-CallUUID
    GWS = "gws"  # GWS call id and connection ids (v3 re-keys a call by connection id)
    LINKEDID = "linkedid"  # Asterisk Linkedid (and the uniqueid of each leg)


class Side(StrEnum):
    GENESYS = "genesys"
    ASTERISK = "asterisk"


IndexKey = tuple[Key, str, str]  # (kind, DN, value)


class CallIndex:
    def __init__(self) -> None:
        self._calls: dict[str, Call] = {}
        self._of_dn: dict[str, dict[str, None]] = {}  # DN -> call ids, oldest first
        self._keys: dict[IndexKey, str] = {}
        self._keys_of: dict[str, list[IndexKey]] = {}  # call id -> the keys that name it
        self._one_sided: dict[tuple[str, Side], dict[str, None]] = {}  # (DN, side it has) -> call ids
        self.counters: dict[str, int] = {}  # DN -> calls ever created (the number in the call id)
        self.released: dict[object, None] = {}  # (DN, GWS call id) released lately: not revived

    # ---------------------------------------------------------------- calls

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def __getitem__(self, call_id: str) -> Call:
        return self._calls[call_id]

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls.values()))

    def __len__(self) -> int:
        return len(self._calls)

    def ids(self) -> list[str]:
        return list(self._calls)

    def of_dn(self, dn: str) -> list[Call]:
        return [self._calls[cid] for cid in self._of_dn.get(dn, ())]

    def new(self, dn: str, t: float) -> Call:
        n = self.counters[dn] = self.counters.get(dn, 0) + 1
        call = Call(id=f"{dn}-{n}", dn=dn, created_at=t, state_since=t)
        self.add(call)
        return call

    def add(self, call: Call) -> None:
        self._calls[call.id] = call
        self._of_dn.setdefault(call.dn, {})[call.id] = None
        self.sides_changed(call)

    def remove(self, call: Call) -> None:
        del self._calls[call.id]
        of_dn = self._of_dn[call.dn]
        del of_dn[call.id]
        if not of_dn:
            del self._of_dn[call.dn]
        self._set_one_sided(call, None)
        for key in self._keys_of.pop(call.id, ()):
            if self._keys.get(key) == call.id:
                del self._keys[key]

    # ---------------------------------------------------------------- keys

    def link(self, kind: Key, dn: str, value: str, call: Call) -> None:
        """``value`` names ``call`` on ``dn`` from now on (an empty value names nothing)."""
        key = (kind, dn, value)
        if value and self._keys.get(key) != call.id:
            self._keys[key] = call.id
            self._keys_of.setdefault(call.id, []).append(key)

    def find(self, kind: Key, dn: str, value: str) -> Call | None:
        cid = self._keys.get((kind, dn, value)) if value else None
        return self._calls.get(cid) if cid is not None else None

    def fold(self, gone: Call, keep: Call) -> None:
        """Every key naming ``gone`` names ``keep`` instead (the two are one interaction)."""
        for key in self._keys_of.pop(gone.id, ()):
            if self._keys.get(key) == gone.id:
                self.link(key[0], key[1], key[2], keep)

    # ---------------------------------------------------------------- one-sided calls

    def sides_changed(self, call: Call) -> None:
        """Call after a side was added to ``call``: it stays a fallback candidate while it has one."""
        has_g, has_a = call.genesys is not None, call.asterisk is not None
        self._set_one_sided(call, None if has_g == has_a else Side.GENESYS if has_g else Side.ASTERISK)

    def one_sided(self, dn: str, has: Side, since: float) -> list[Call]:
        """The DN's calls that have only side ``has``, created at ``since`` or later. Older ones are
        dropped from the candidates for good (events come in time order)."""
        ids = self._one_sided.get((dn, has), {})
        while ids:
            oldest = next(iter(ids))
            if self._calls[oldest].created_at >= since:
                break
            del ids[oldest]
        return [self._calls[cid] for cid in ids]

    def _set_one_sided(self, call: Call, side: Side | None) -> None:
        for candidate in Side:
            key = (call.dn, candidate)
            if candidate is side:
                self._one_sided.setdefault(key, {})[call.id] = None
            elif call.id in self._one_sided.get(key, {}):
                ids = self._one_sided[key]
                del ids[call.id]
                if not ids:
                    del self._one_sided[key]

    def remember_released(self, dn: str, gws_id: str) -> None:
        remember(self.released, (dn, gws_id))
