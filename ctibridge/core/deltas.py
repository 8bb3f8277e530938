"""Outbound changes of the unified state: one delta per call change, numbered per DN.

The sequence counts per DN (a widget follows one DN) and grows by exactly one, so a client can
prove it missed nothing. ``encode`` is cached: the same delta goes to the log, the store and every
widget of the DN, and is serialised once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Delta:
    dn: str
    seq: int
    op: Op
    call: dict[str, Any]  # the call view (see ctibridge.core.model.CallView for its schema)
    t: float
    _json: list[str] = field(default_factory=list, repr=False, compare=False)

    def message(self) -> dict[str, Any]:
        return {"type": "delta", "dn": self.dn, "seq": self.seq, "op": self.op.value,
                "call": self.call, "t": self.t}

    def encode(self) -> str:
        """The widget frame, serialised once and shared by every consumer."""
        if not self._json:
            self._json.append(json.dumps(self.message(), separators=(",", ":"), ensure_ascii=False))
        return self._json[0]

    @classmethod
    def from_message(cls, msg: dict[str, Any]) -> Delta:
        return cls(dn=str(msg["dn"]), seq=int(msg["seq"]), op=Op(msg["op"]), call=dict(msg["call"]),
                   t=float(msg.get("t", 0.0)))
