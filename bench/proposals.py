"""The changes docs/performance.md proposes, applied in the bench process only, to measure them.

The service's code is not edited: ``proposed()`` patches it for the duration of a ``with`` block.
Prototypes, not the implementation: they lean on internals (a call id is ``"{dn}-{n}"``).

1. ``export_changes`` sends the meta of the DNs whose calls changed, not every DN's sequence and
   counter and the sorted Genesys DN list (O(DNs) per event: ~19 KB of JSON per message with 500
   busy DNs), and ``merge_state`` folds that partial meta in.
2. ``MemoryStore`` keeps the changes it is handed instead of a JSON round trip of them (the
   pipeline never touches them again; ``export_changes`` builds fresh dicts each time).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import ctibridge.store.memory as memory_store
from ctibridge.core.correlator import STATE_VERSION, Correlator
from ctibridge.core.snapshot import dump_call


def _export_changes(self: Correlator) -> dict[str, Any]:
    dirty, self._dirty = self._dirty, set()
    calls = {cid: (dump_call(self._calls[cid]) if cid in self._calls else None) for cid in dirty}
    dns = {cid.rsplit("-", 1)[0] for cid in dirty}
    meta: dict[str, Any] = {
        "seqs": {dn: self._seqs[dn] for dn in dns if dn in self._seqs},
        "counters": {dn: self._counters[dn] for dn in dns if dn in self._counters},
        "asterisk_seen": self._asterisk_seen, "boot_time": self._boot_time}
    if len(self._genesys_dns) != getattr(self, "_sent_genesys_dns", -1):
        meta["genesys_dns"] = sorted(self._genesys_dns)
        self._sent_genesys_dns = len(self._genesys_dns)  # type: ignore[attr-defined]
    return {"version": STATE_VERSION, "meta": meta, "calls": calls, "partial_meta": True}


def _merge_state(full: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    if full is None or full.get("version") != changes.get("version"):
        full = {"version": changes.get("version"), "meta": {"seqs": {}, "counters": {}}, "calls": {}}
    meta, new = full["meta"], changes["meta"]
    if changes.get("partial_meta"):
        meta.setdefault("seqs", {}).update(new["seqs"])
        meta.setdefault("counters", {}).update(new["counters"])
        meta.update({k: v for k, v in new.items() if k not in ("seqs", "counters")})
    else:
        full["meta"] = new
    calls = full["calls"]
    for cid, data in changes["calls"].items():
        if data is None:
            calls.pop(cid, None)
        else:
            calls[cid] = data
    return full


@contextlib.contextmanager
def proposed() -> Iterator[None]:
    saved = (Correlator.export_changes, memory_store.merge_state, memory_store.json_copy)
    Correlator.export_changes = _export_changes  # type: ignore[method-assign]
    memory_store.merge_state = _merge_state
    memory_store.json_copy = lambda value: value
    try:
        yield
    finally:
        Correlator.export_changes, memory_store.merge_state, memory_store.json_copy = saved
