"""Replay: drive the core from recorded logs, exactly as the live service does.

``replay(records)`` feeds every inbound record through the same parsers and the same correlator
the service uses, letting time pass (``tick``) at each record's time, and returns the deltas.
``ctibridge replay FILE...`` (``ctibridge.logs.replay_command``) prints the result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from ctibridge.core.correlator import Correlator
from ctibridge.core.deltas import Delta
from ctibridge.logs.eventlog import Record, to_event


@dataclass(slots=True)
class ReplayResult:
    correlator: Correlator
    deltas: list[Delta] = field(default_factory=list)
    records: int = 0
    events: int = 0


def replay(records: Iterable[Record], correlator: Correlator | None = None,
           settle: float | None = None) -> ReplayResult:
    """Feed ``records`` in order. ``settle``: finally let this many seconds pass (grace periods)."""
    result = ReplayResult(correlator or Correlator())
    core, deltas = result.correlator, result.deltas
    t = 0.0
    for record in records:
        result.records += 1
        t = record.t
        event = to_event(record)
        if event is None:
            continue
        result.events += 1
        deltas += core.tick(t)
        deltas += core.feed(event)
    if settle is not None:
        deltas += core.tick(t + settle)
    return result


def describe(delta: Delta, t0: float) -> str:
    call = delta.call
    sync = call["sync"]
    remote = call["remote"]
    who = " ".join(x for x in (remote.get("name"), remote.get("number")) if x) or "-"
    sides = []
    if call.get("genesys"):
        sides.append(f"G:{call['genesys']['state']}")
    if call.get("asterisk"):
        sides.append(f"A:{call['asterisk']['state']}")
    sync_text = sync["status"] + (f"({sync['rule']})" if sync["rule"] else "")
    return (f"+{delta.t - t0:8.3f}s  dn {delta.dn:<6} #{delta.seq:<4} {delta.op.value:<8} {call['id']:<10} "
            f"{call['state']:<12} {' '.join(sides):<28} sync {sync_text:<24} {call['direction']:<8} {who}"
            + (f"  uuid {call['call_uuid']}" if call.get("call_uuid") else ""))


def print_timeline(result: ReplayResult, shown: list[Delta], out: TextIO, *, as_json: bool = False) -> None:
    t0 = shown[0].t if shown else 0.0
    for delta in shown:
        out.write((delta.encode() if as_json else describe(delta, t0)) + "\n")
    stats = result.correlator.stats
    if not as_json:
        out.write(f"-- {result.records} records, {result.events} events, {len(shown)} deltas, "
                  f"parse errors {dict(stats.parse_errors) or 0}, "
                  f"divergences {dict(stats.divergences) or 0}, "
                  f"live calls at end {len(result.correlator.calls())}\n")
    else:
        out.write(json.dumps({"type": "summary", "records": result.records, "events": result.events,
                              "deltas": len(shown), "parse_errors": dict(stats.parse_errors),
                              "divergences": dict(stats.divergences)}) + "\n")
