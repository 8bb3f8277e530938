"""A correlator that starts from a resync alone (a bridge started, or restarted without its store,
while calls are up) computes the same call as one that saw the call from its start.

Both are fed the real Asterisk 22 capture tests/recordings/asterisk-call-events-then-resync-after-
ami-loss.jsonl: the first from its beginning, the second only from the reconnect on (the login,
FullyBooted and the CoreShowChannels listing). The real-Asterisk version of this check is
tests/reliability/test_asterisk_resync.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctibridge.core.correlator import Correlator, CorrelatorSettings
from ctibridge.logs.eventlog import Record, read_records, to_event

LOG = Path(__file__).parent.parent / "recordings" / "asterisk-call-events-then-resync-after-ami-loss.jsonl"
SETTINGS = CorrelatorSettings(dns=frozenset({"5001", "5002", "5003", "5004"}))


def fed(records: list[Record]) -> Correlator:
    core = Correlator(SETTINGS)
    for record in records:
        event = to_event(record)
        if event is not None:
            core.feed(event)
    return core


def view(core: Correlator) -> list[tuple[Any, ...]]:
    return sorted((c["dn"], c["call_uuid"], c["state"], c["sync"]["status"],
                   sorted((ch["name"], ch["role"], ch["state"]) for ch in c["asterisk"]["channels"]))
                  for c in core.calls())


def test_a_fresh_resync_finds_both_legs_of_a_live_call() -> None:
    records = list(read_records(LOG))
    links = [(i, r.msg.get("_link")) for i, r in enumerate(records) if r.dir == "meta"]
    reconnect = max(i for i, link in links if link == "connected")
    listing_end = next(i for i, link in links if i > reconnect and link == "resync_end")
    history = fed(records[:listing_end + 1])
    fresh = fed(records[reconnect:listing_end + 1])
    assert len(view(history)) == 1 and len(view(history)[0][4]) == 2  # agent and trunk legs
    assert view(fresh) == view(history)
