"""Helpers for replaying long logs: progress, pacing, filters and a summary.

``ctibridge replay`` wires them (see ``replay.main``): a progress bar on stderr (only on a
terminal), ``--speed 10`` (ten times real time) or ``--speed max`` (no pacing), ``--dn``/``--call``
filters of what is shown, and a summary of calls, recognised scenarios, divergences and parse
errors. The core always sees every record: filters apply to the output only, because a call's
correlation may depend on records of other DNs (a transfer).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from ctibridge.core.deltas import Delta
from ctibridge.logs.eventlog import Record
from ctibridge.logs.replay import ReplayResult

BAR_WIDTH = 30


def parse_speed(text: str) -> float | None:
    """``max`` -> None (no pacing); a positive number -> that many times real time."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be a number or 'max', not {text!r}") from None
    if speed <= 0:
        raise argparse.ArgumentTypeError("speed must be > 0")
    return speed


def with_progress(records: Sequence[Record], stream: TextIO | None = None) -> Iterator[Record]:
    """Yield ``records``, drawing a bar on ``stream`` (stderr) when it is a terminal."""
    out = stream if stream is not None else sys.stderr
    total = len(records)
    if not out.isatty() or total == 0:
        yield from records
        return
    step = max(1, total // 200)  # redraw at most ~200 times, whatever the log's size
    for n, record in enumerate(records, 1):
        if n % step == 0 or n == total:
            done = BAR_WIDTH * n // total
            out.write(
                f"\r[{'#' * done}{'-' * (BAR_WIDTH - done)}] {100 * n // total:3d}% {n}/{total} records"
            )
            out.flush()
        yield record
    out.write("\n")


def paced(
    records: Iterable[Record],
    speed: float | None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Record]:
    """Yield each record when its time has come, ``speed`` times faster than recorded (None: now)."""
    if speed is None:
        yield from records
        return
    start: tuple[float, float] | None = None  # (first record's t, wall clock then)
    for record in records:
        if start is None:
            start = (record.t, clock())
        due = start[1] + (record.t - start[0]) / speed
        wait = due - clock()
        if wait > 0:
            sleep(wait)  # real-time pacing is the point of --speed
        yield record


def select_deltas(
    deltas: Iterable[Delta], dns: Iterable[str] | None = None, calls: Iterable[str] | None = None
) -> list[Delta]:
    want_dns, want_calls = set(dns or ()), set(calls or ())
    return [
        d
        for d in deltas
        if (not want_dns or d.dn in want_dns) and (not want_calls or str(d.call.get("id")) in want_calls)
    ]


def recognise(views: Sequence[dict[str, object]]) -> str:
    """The flow one call went through, from its successive views: ``inbound answered + hold``."""
    states = {str(v.get("state")) for v in views}
    direction = str(views[0].get("direction", "")) if views else ""
    answered = bool(states & {"established", "held", "transferring"})
    if direction == "outbound":
        name = "outbound" if answered else "outbound unanswered"
    elif not answered and "released" in states:
        name = "abandoned" if direction == "inbound" else "unanswered"
    else:
        name = f"{direction or 'unknown'} {'answered' if answered else 'ringing'}"
    extras = [tag for tag, state in (("hold", "held"), ("transfer", "transferring")) if state in states]
    syncs = [v.get("sync") for v in views]
    if any(isinstance(sync, dict) and sync.get("status") == "diverged" for sync in syncs):
        extras.append("diverged")
    return " + ".join([name, *extras])


@dataclass
class Summary:
    records: int
    events: int
    deltas: int
    calls: int
    scenarios: Counter[str] = field(default_factory=Counter)
    divergences: dict[str, int] = field(default_factory=dict)
    parse_errors: dict[str, int] = field(default_factory=dict)


def summarize(result: ReplayResult, deltas: Sequence[Delta] | None = None) -> Summary:
    """Counts over ``deltas`` (default: all of the result's)."""
    shown = result.deltas if deltas is None else deltas
    by_call: dict[str, list[dict[str, object]]] = {}
    for delta in shown:
        by_call.setdefault(str(delta.call.get("id")), []).append(delta.call)
    stats = result.correlator.stats
    return Summary(
        records=result.records,
        events=result.events,
        deltas=len(shown),
        calls=len(by_call),
        scenarios=Counter(recognise(views) for views in by_call.values()),
        divergences=dict(stats.divergences),
        parse_errors=dict(stats.parse_errors),
    )


def print_summary(summary: Summary, out: TextIO) -> None:
    out.write(
        f"summary: {summary.records} records, {summary.events} events, {summary.deltas} deltas, "
        f"{summary.calls} calls\n"
    )
    for name, count in summary.scenarios.most_common():
        out.write(f"  {count:5d}  {name}\n")
    out.write(f"divergences: {summary.divergences or 'none'}\n")
    out.write(f"parse errors: {summary.parse_errors or 'none'}\n")
