"""Every recorded log renders as a timeline: each call's ladder with its Genesys, Asterisk, bridge
and widget rows; and the replay helpers (pacing, progress, filters, summary) do what they say."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ctibridge.core.correlator import Correlator
from ctibridge.logs.eventlog import Record, read_records
from ctibridge.logs.replay import replay
from ctibridge.logs.replay_tools import (
    paced,
    parse_speed,
    print_summary,
    select_deltas,
    summarize,
    with_progress,
)
from ctibridge.logs.timeline import ladders, render_timeline

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
LOGS = sorted(
    p
    for p in RECORDINGS.rglob("*")
    if p.suffix in (".jsonl", ".txt") and not p.name.endswith(".expected.jsonl")
)


class _Cells(HTMLParser):
    """Counts the non-empty lane cells per lane class, and checks the document nests."""

    def __init__(self) -> None:
        super().__init__()
        self.lane_rows: dict[str, int] = {}
        self._lane = ""
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta",):
            self.stack.append(tag)
        if tag == "td":
            self._lane = dict(attrs).get("class") or ""
        if (
            tag == "span"
            and dict(attrs).get("class") == "ev"
            and self._lane in ("genesys", "asterisk", "bridge", "widget")
        ):
            self.lane_rows[self._lane] = self.lane_rows.get(self._lane, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, f"</{tag}> closes nothing open"


@pytest.mark.parametrize("log", LOGS, ids=lambda p: str(p.relative_to(RECORDINGS)))
def test_every_recorded_log_renders(log: Path) -> None:
    records = list(read_records(log))
    result = replay(records, settle=5.0)
    page = render_timeline(records, result.deltas, title=log.name)
    cells = _Cells()
    cells.feed(page)
    assert cells.stack == []
    call_ids = {str(d.call["id"]) for d in result.deltas}
    for call_id in call_ids:
        assert f"Call {call_id}</h2>" in page
    if call_ids:
        assert cells.lane_rows.get("widget", 0) == len(result.deltas)
        assert cells.lane_rows.get("asterisk", 0) > 0 or cells.lane_rows.get("genesys", 0) > 0
    if any(r.src == "gws" and r.dir == "in" for r in records) and call_ids:
        assert cells.lane_rows.get("genesys", 0) > 0


def test_a_paired_call_has_all_lanes_in_time_order() -> None:
    records = list(read_records(RECORDINGS / "asterisk-hold-then-retrieve.jsonl"))
    result = replay(records, settle=5.0)
    call_id = str(result.deltas[0].call["id"])
    rows = ladders(records, result.deltas)[call_id]
    lanes = {row.lane for row in rows}
    assert {"asterisk", "bridge", "widget"} <= lanes  # the bridge's Redirect/Bridge actions are there
    assert [row.t for row in rows] == sorted(row.t for row in rows) and rows[0].t == 0.0
    assert any(row.label == "Redirect" for row in rows if row.lane == "bridge")


def test_divergence_is_marked() -> None:
    """Asterisk is up but never sees the call Genesys reports: it diverges after the grace period,
    and the row and the lane say so."""
    records = [
        r
        for r in read_records(RECORDINGS / "inbound_answered.jsonl")
        if (r.src == "gws" and "Released" not in str(r.msg)) or (r.src == "ami" and "Uniqueid" not in r.msg)
    ]
    result = replay(records, Correlator(), settle=30.0)
    page = render_timeline(records, result.deltas)
    assert "DIVERGED: genesys_only" in page and "class='div'" in page


def test_speed_paces_in_real_time_and_max_does_not() -> None:
    records = [Record(t, "ami", "in", {}) for t in (10.0, 10.5, 12.0)]
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 3))
        now[0] += s

    assert list(paced(records, 10.0, sleep=sleep, clock=lambda: now[0])) == records
    assert slept == [0.05, 0.15]
    assert list(paced(records, parse_speed("max"), sleep=sleep)) == records and len(slept) == 2


def test_progress_only_on_a_terminal() -> None:
    records = [Record(float(i), "ami", "in", {}) for i in range(500)]

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, tty = io.StringIO(), Tty()
    assert list(with_progress(records, quiet)) == records and quiet.getvalue() == ""
    assert list(with_progress(records, tty)) == records
    assert tty.getvalue().rstrip().endswith("100% 500/500 records")


def test_filters_and_summary() -> None:
    records = [
        r
        for log in ("inbound_answered.jsonl", "abandon_ringing.jsonl", "hold_retrieve_genesys.jsonl")
        for r in read_records(RECORDINGS / log)
    ]
    result = replay(sorted(records, key=lambda r: r.t), settle=5.0)
    assert select_deltas(result.deltas, dns=["9999"]) == []
    first = str(result.deltas[0].call["id"])
    assert {str(d.call["id"]) for d in select_deltas(result.deltas, calls=[first])} == {first}
    summary = summarize(result)
    assert summary.calls >= 2 and summary.parse_errors == {}
    out = io.StringIO()
    print_summary(summary, out)
    assert "calls" in out.getvalue() and "answered" in out.getvalue()
    with pytest.raises(Exception, match="number or 'max'"):
        parse_speed("fast")
