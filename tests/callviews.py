"""Test helpers: valid call views and per-DN delta streams, as the correlator would produce them.

``DeltaStream(dn)`` plays a DN's calls: ``created`` / ``updated`` / ``removed`` with seq growing
by one. ``replay`` folds deltas into the view a widget would hold (id -> call).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from ctibridge.core.deltas import Delta, Op


def call_view(dn: str, n: int, *, state: str = "ringing", t: float = 1732527590.0,
              padding: int = 0) -> dict[str, Any]:
    return {
        "id": f"{dn}-{n}", "dn": dn, "direction": "inbound", "state": state,
        "state_since": t, "created_at": t,
        "remote": {"number": "+15550001000", "name": "José Müller"},
        "ani": "+15550001000", "dnis": dn, "call_uuid": f"G2BL4-{n}", "sip_call_id": f"{n}-21046@127.0.0.2",
        "user_data": {"Segment": "Gold", "Notes": "x" * padding}, "parent_id": None,
        "genesys": {"call_id": f"g{n}", "conn_id": f"c{n}", "previous_conn_ids": [], "state": "Ringing",
                    "call_type": "Inbound", "capabilities": ["Answer"], "participants": ["+15550001000"]},
        "asterisk": {"state": "ringing", "linkedid": f"1795597860.{n}", "bridge_id": None, "held": False,
                     "channels": [{"uniqueid": f"u{n}", "name": f"PJSIP/{dn}-0000000{n}", "role": "agent",
                                   "state": "Ringing"}],
                     "hangup_cause": None, "hangup_text": None},
        "actions": ["answer", "hangup"],
        "sync": {"status": "ok", "rule": None, "detail": None, "since": t},
    }


STATES = ("ringing", "established", "held", "established", "transferring")


class DeltaStream:
    """A DN's deltas: each ``next()`` creates, updates or removes one call, seq + 1."""

    def __init__(self, dn: str, *, seed: int = 0, padding: int = 0) -> None:
        self.dn = dn
        self.seq = 0
        self.padding = padding
        self.live: dict[str, dict[str, Any]] = {}
        self._made = 0
        self._rand = random.Random(seed)

    def next(self) -> Delta:
        self.seq += 1
        t = 1732527590.0 + self.seq
        choice = self._rand.random()
        if not self.live or (choice < 0.3 and len(self.live) < 4):
            self._made += 1
            op, call = Op.CREATED, call_view(self.dn, self._made, t=t, padding=self.padding)
            self.live[call["id"]] = call
        elif choice < 0.45:
            op, call = Op.REMOVED, self.live.pop(self._rand.choice(sorted(self.live)))
            call = {**call, "state": "released", "state_since": t}
        else:
            call_id = self._rand.choice(sorted(self.live))
            call = {**self.live[call_id], "state": self._rand.choice(STATES), "state_since": t}
            op = Op.UPDATED
            self.live[call_id] = call
        return Delta(dn=self.dn, seq=self.seq, op=op, call=call, t=t)

    def take(self, n: int) -> list[Delta]:
        return [self.next() for _ in range(n)]


def replay(view: dict[str, dict[str, Any]], deltas: Iterable[Delta | dict[str, Any]]) -> None:
    for d in deltas:
        msg = d.message() if isinstance(d, Delta) else d
        if msg["op"] == "removed":
            view.pop(msg["call"]["id"], None)
        else:
            view[msg["call"]["id"]] = msg["call"]
