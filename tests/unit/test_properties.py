"""Property tests: whatever order, repetition or truncation the two sources deliver a scenario in,
and whatever garbage arrives, the correlator never raises, never mixes two DNs' calls, and ends
with no live call once both sides have released every call."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ctibridge.core.correlator import Correlator
from ctibridge.core.events import ChannelUpdate
from ctibridge.logs.eventlog import Record, read_records, to_event
from ctibridge.logs.replay import replay

RECORDINGS = Path(__file__).parent.parent / "recordings"
SCENARIOS = ["inbound_answered", "hold_retrieve_genesys", "abandon_ringing", "outbound", "inbound_webrtc"]


def load(name: str) -> list[Record]:
    return list(read_records(RECORDINGS / f"{name}.jsonl"))


def on_dn(records: list[Record], dn: str) -> list[Record]:
    """The same scenario on another DN, with other ids (a second agent's call at the same time)."""
    text = json.dumps([[r.t, r.src, r.dir, r.msg, r.conn] for r in records])
    text = text.replace("5001", dn).replace("17955", "27955").replace('"1-2', '"9-2')
    for uuid in ("CHWY4OGENZHJDGFBKE3MGX4YEA021332", "XUGIRE5EQVD5LAI7SE2BLHFIJM021332",
                 "HV4DLR4TIBAUDG5MJ5CF7SHTTA021815", "OUTB0UND5002CALLUUIDNOTINSIP001",
                 "0123ABCD4567EF89WEBRTC1"):
        text = text.replace(uuid, uuid[::-1])
    return [Record(t, src, d, msg, conn) for t, src, d, msg, conn in json.loads(text)]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Record], bool]:
    """Two DNs' calls; each source keeps its own order (TCP), their interleaving is arbitrary;
    some messages repeat (a resent event, a REST re-read); maybe the log stops early."""
    first = load(draw(st.sampled_from(SCENARIOS)))
    second = on_dn(load(draw(st.sampled_from(SCENARIOS))), "5002")
    streams = [[r for r in log if r.src == src] for log in (first, second) for src in ("ami", "gws")]
    merged: list[Record] = []
    cursors = [0] * len(streams)
    while any(c < len(s) for c, s in zip(cursors, streams, strict=True)):
        live = [i for i, s in enumerate(streams) if cursors[i] < len(s)]
        i = draw(st.sampled_from(live))
        rec = streams[i][cursors[i]]
        cursors[i] += 1
        merged.append(rec)
        if draw(st.integers(0, 19)) == 0:
            merged.append(rec)  # delivered twice
    cut = draw(st.one_of(st.none(), st.integers(0, len(merged))))
    complete = cut is None
    merged = merged if complete else merged[:cut]
    # one clock: times follow delivery order
    return [Record(n * 0.001, r.src, r.dir, r.msg, r.conn) for n, r in enumerate(merged)], complete


@given(deliveries())
def test_any_delivery_order_keeps_dns_apart_and_ends_clean(delivery: tuple[list[Record], bool]) -> None:
    records, complete = delivery
    result = replay(records, settle=200.0)
    for d in result.deltas:
        call = d.call
        assert call["dn"] == d.dn and call["id"].startswith(d.dn + "-")
        for leg in (call["asterisk"] or {}).get("channels", ()):
            endpoint = leg["name"].split("/", 1)[1].rsplit("-", 1)[0]
            assert endpoint in (d.dn, "genesys"), (endpoint, d.dn)
    last: dict[str, int] = {}
    for d in result.deltas:
        assert d.seq == last.get(d.dn, 0) + 1
        last[d.dn] = d.seq
    if complete:
        assert result.correlator.calls() == []


garbage_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=20)


@given(st.lists(st.tuples(st.sampled_from(["ami", "gws"]), st.dictionaries(
    st.sampled_from(["Event", "Uniqueid", "Linkedid", "Channel", "ChannelState", "Exten", "Context",
                     "ChanVariable", "DestUniqueid", "BridgeUniqueid", "channel", "data", "rest", "_link",
                     "Cause", "Uptime", "call", "phoneNumber"]), garbage_values, max_size=8)), max_size=30))
def test_garbage_never_raises_and_is_counted(messages: list[tuple[str, dict]]) -> None:
    core = Correlator()
    for n, (src, msg) in enumerate(messages):
        try:
            event = to_event(Record(n * 0.01, src, "in", msg, "5001"))
        except Exception as exc:
            raise AssertionError(f"parser raised on {msg!r}") from exc
        if event is not None:
            core.feed(event)
        core.tick(n * 0.01)


def test_a_late_repeat_of_the_first_event_does_not_resurrect_a_finished_call() -> None:
    records = load("inbound_answered")
    first_ami = next(r for r in records if r.src == "ami" and r.msg.get("Event") == "Newchannel")
    event = to_event(first_ami)
    assert isinstance(event, ChannelUpdate)
    result = replay([*records, Record(records[-1].t + 1, "ami", "in", first_ami.msg)], settle=200.0)
    assert result.correlator.calls() == []
