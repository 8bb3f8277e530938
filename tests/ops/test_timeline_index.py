"""The live timeline index gives every call of every recorded log the same ladder as the offline
renderer (a full pass over the log), while holding a bounded number of calls and rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctibridge.core.correlator import Correlator
from ctibridge.core.deltas import Delta, Op
from ctibridge.logs.eventlog import EventLogWriter, Record, read_records, to_event
from ctibridge.logs.timeline import Row, ladders
from ctibridge.logs.timeline_index import TimelineIndex

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
LOGS = sorted(p for p in RECORDINGS.glob("*.jsonl") if not p.name.endswith(".expected.jsonl"))


def live(records: list[Record], index: TimelineIndex) -> list[Delta]:
    """Feed ``records`` as the service does: each inbound record, then the deltas it caused, all
    through the event-log writer the index observes."""
    writer = EventLogWriter(None, observers=[index.observe])
    core, deltas = Correlator(), []
    for record in records:
        step = core.tick(record.t)
        writer.write(record.src, record.dir, record.msg, record.t, record.conn)
        event = to_event(record)
        step += core.feed(event) if event is not None else []
        for delta in step:
            writer.write("bridge", "out", delta.message(), delta.t, delta.dn)
        deltas += step
    return deltas


def _key(row: Row) -> tuple[float, str, str, str, str]:
    return (round(row.t, 6), row.lane, row.label, row.detail, row.divergence)


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_the_index_draws_the_same_ladders_as_a_full_pass(log: Path) -> None:
    records = [r for r in read_records(log) if r.src != "bridge"]
    index = TimelineIndex()
    deltas = live(records, index)
    offline = ladders(records, deltas)
    assert set(offline) == {str(d.call["id"]) for d in deltas}
    for call_id, rows in offline.items():
        ladder = index.ladder(call_id)
        assert ladder is not None and ladder.truncated == 0
        assert sorted(map(_key, ladder.rows)) == sorted(map(_key, rows)), call_id
        assert index.dn_of(call_id) == deltas[[d.call["id"] for d in deltas].index(call_id)].dn


def _call_records(n: int, events: int) -> list[Record]:
    """``n`` calls, each a delta and ``events`` AMI events about its channel."""
    out: list[Record] = []
    for i in range(n):
        channel = {"uniqueid": f"U{i}", "name": f"PJSIP/5001-{i}"}
        view = {"id": f"c{i}", "dn": "5001", "state": "ringing",
                "asterisk": {"linkedid": f"L{i}", "channels": [channel]}}
        delta = Delta("5001", i + 1, Op.CREATED, view, float(i))
        out.append(Record(float(i), "bridge", "out", delta.message(), "5001"))
        out += [Record(i + j / 1000, "ami", "in", {"Event": "Newstate", "Uniqueid": f"U{i}"})
                for j in range(events)]
    return out


def test_memory_is_bounded_in_calls_and_rows() -> None:
    index = TimelineIndex(max_calls=50, max_rows=20, recent=100)
    for record in _call_records(200, 40):
        index.observe(record)
    assert len(index) == 50
    assert index.ladder("c0") is None and index.dn_of("c0") is None  # the oldest calls are forgotten
    ladder = index.ladder("c199")
    assert ladder is not None
    assert len(ladder.rows) == 20 and ladder.truncated == 21  # 1 delta + 40 events, 20 kept


def test_a_record_before_the_call_is_known_is_filed_when_it_is() -> None:
    first, *rest = _call_records(1, 3)
    index = TimelineIndex()
    for record in [*rest, first]:  # the AMI events arrive before the delta naming their channel
        index.observe(record)
    ladder = index.ladder("c0")
    assert ladder is not None and [r.lane for r in ladder.rows].count("asterisk") == 3


def test_timelines_can_be_turned_off() -> None:
    index = TimelineIndex(max_calls=0)
    for record in _call_records(3, 2):
        index.observe(record)
    assert len(index) == 0 and index.ladder("c2") is None
