"""``/calls/{id}/timeline``: the per-call index against the full pass over the event log it replaced.

A synthetic live log: calls, each a widget delta and AMI events about its channels (what the
service writes). The index is fed as the service feeds it; the full pass reads the log file,
replays it through a fresh core and draws every ladder, as the old route did per request.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.common import row, table
from ctibridge.core.correlator import Correlator
from ctibridge.core.deltas import Delta, Op
from ctibridge.logs.eventlog import EventLogWriter, Record, read_records
from ctibridge.logs.replay import replay
from ctibridge.logs.timeline import ladders, render_ladders
from ctibridge.logs.timeline_index import TimelineIndex

EVENTS_PER_CALL = 20


def records(calls: int) -> list[Record]:
    out: list[Record] = []
    for i in range(calls):
        dn, channel = str(5001 + i % 50), f"PJSIP/x-{i}"
        view = {"id": f"c{i}", "dn": dn, "state": "ringing",
                "asterisk": {"linkedid": f"L{i}", "channels": [{"uniqueid": f"U{i}", "name": channel}]}}
        event = {"Event": "Newstate", "Uniqueid": f"U{i}", "Channel": channel, "ChannelStateDesc": "Up"}
        out += [Record(i + j / 100, "ami", "in", event) for j in range(EVENTS_PER_CALL // 2)]  # before
        delta = Delta(dn, i + 1, Op.CREATED, view, i + 0.5)
        out.append(Record(i + 0.5, "bridge", "out", delta.message(), dn))
        out += [Record(i + 0.5 + j / 100, "ami", "in", event) for j in range(EVENTS_PER_CALL // 2)]
    return out


def filled(log: list[Record]) -> TimelineIndex:
    index = TimelineIndex()
    for record in log:
        index.observe(record)
    return index


def index_figures(log: list[Record]) -> dict[str, float]:
    tracemalloc.start()
    kept = filled(log)
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    started = time.perf_counter()
    index = filled(log)
    observe_s = time.perf_counter() - started
    last = f"c{sum(1 for r in log if r.src == 'bridge') - 1}"
    started = time.perf_counter()
    ladder = index.ladder(last)
    assert ladder is not None
    render_ladders([ladder], title=last)
    return {"observe_us": observe_s / len(log) * 1e6, "request_ms": (time.perf_counter() - started) * 1000,
            "memory_mb": memory / 1e6}


def full_pass_ms(log: list[Record], path: Path) -> float:
    writer = EventLogWriter(path)
    for record in log:
        writer.write(record.src, record.dir, record.msg, record.t, record.conn)
    writer.close()
    started = time.perf_counter()
    read = list(read_records(path))
    deltas = [Delta.from_message(r.msg) for r in read if r.src == "bridge"]
    replay(read, Correlator())
    ladders(read, deltas[-1:])
    return (time.perf_counter() - started) * 1000


def run(quick: bool = False) -> list[Any]:
    import tempfile
    sizes = (500,) if quick else (5_000, 50_000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for calls in sizes:
            log = records(calls)
            figures = [index_figures(log) for _ in range(1 if quick else 3)]
            size = f"{len(log):,} records"
            rows += [
                row(f"timeline.index_request_{calls}", f"timeline request from the index, {size}", "ms",
                    [f["request_ms"] for f in figures]),
                row(f"timeline.index_observe_{calls}", f"index cost per record written, {size}", "us",
                    [f["observe_us"] for f in figures]),
                row(f"timeline.index_memory_{calls}", f"index memory (at most 1,000 calls), {size}", "MB",
                    [f["memory_mb"] for f in figures]),
                row(f"timeline.full_pass_{calls}", f"old route: read + replay + ladders, {size}", "ms",
                    [full_pass_ms(log, Path(tmp) / f"events-{calls}-{n}.jsonl")
                     for n in range(1 if quick else 3)]),
            ]
    return rows


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv)))
