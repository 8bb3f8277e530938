"""AMI bytes -> raw messages -> events: framing, encodings, and every event kind the core uses."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ctibridge.core.ami_parse import AmiFramer, iter_capture, parse_ami, parse_frame
from ctibridge.core.events import (
    AmiLink,
    BridgeUpdate,
    ChannelHangup,
    ChannelUpdate,
    DialUpdate,
    GwsLink,
    HoldUpdate,
    ParseError,
    TransferUpdate,
)
from ctibridge.logs.eventlog import Record, link_record, to_event

A_BASIC = Path(__file__).parent.parent / "recordings" / "asterisk-22" / "a_basic.ami.txt"

NEWCHANNEL = (
    "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/genesys-00000002\r\nChannelState: 4\r\n"
    "ChannelStateDesc: Ring\r\nCallerIDNum: +15550001000\r\nCallerIDName: José Müller\r\n"
    "ConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nContext: from-genesys\r\nExten: 5001\r\n"
    "Uniqueid: 1795597860.2\r\nLinkedid: 1795597860.2\r\nChanVariable: CALLUUID=ABC\r\n"
    "ChanVariable: SIPCALLID=1-21046@127.0.0.2\r\n\r\n"
)


def test_greeting_then_frames_and_repeated_keys() -> None:
    framer = AmiFramer()
    msgs = framer.feed(b"Asterisk Call Manager/11.0.0\r\n" + NEWCHANNEL.encode())
    assert msgs[0] == {"_greeting": "Asterisk Call Manager/11.0.0"}
    assert msgs[1]["ChanVariable"] == ["CALLUUID=ABC", "SIPCALLID=1-21046@127.0.0.2"]
    assert msgs[1]["AccountCode" if "AccountCode" in msgs[1] else "Exten"] in ("", "5001")


def test_utf8_character_split_across_reads_arrives_intact() -> None:
    data = NEWCHANNEL.encode()
    cut = data.index("ü".encode()) + 1  # in the middle of the two bytes of "ü"
    framer = AmiFramer(expect_greeting=False)
    assert framer.feed(data[:cut]) == []
    (msg,) = framer.feed(data[cut:])
    assert msg["CallerIDName"] == "José Müller"


@given(st.lists(st.integers(min_value=1, max_value=len(NEWCHANNEL.encode()) * 2), max_size=12))
def test_any_chunking_gives_the_same_messages(cuts: list[int]) -> None:
    data = (NEWCHANNEL * 2).encode()
    framer = AmiFramer(expect_greeting=False)
    out = []
    last = 0
    for cut in sorted(set(c for c in cuts if c < len(data))):
        out += framer.feed(data[last:cut])
        last = cut
    out += framer.feed(data[last:])
    assert out == [parse_frame(NEWCHANNEL.rstrip("\r\n")), parse_frame(NEWCHANNEL.rstrip("\r\n"))]


def test_lf_only_line_endings_and_invalid_utf8() -> None:
    framer = AmiFramer(expect_greeting=False)
    (msg,) = framer.feed(b"Event: Newstate\nChannel: PJSIP/5001-1\nCallerIDName: \xff\xfe\n\n")
    assert msg["Event"] == "Newstate" and msg["CallerIDName"] == "\ufffd\ufffd"


def test_oversized_garbage_is_dropped_and_counted() -> None:
    framer = AmiFramer(expect_greeting=False)
    assert framer.feed(b"x" * (2 << 20)) == []
    assert framer.oversized == 1
    assert framer.feed(b"Event: Ping\r\n\r\n") == [{"Event": "Ping"}]


def test_events_of_a_real_capture() -> None:
    events = [parse_ami(m, 0.0) for m in iter_capture(A_BASIC.read_bytes())]
    kinds = [type(e).__name__ for e in events if e is not None]
    assert not any(isinstance(e, ParseError) for e in events)
    assert kinds[0] == "AmiLink"  # FullyBooted
    for kind in ("ChannelUpdate", "DialUpdate", "BridgeUpdate", "ChannelHangup"):
        assert kind in kinds
    first = next(e for e in events if isinstance(e, ChannelUpdate))
    assert first.channel.endpoint == "genesys" and first.channel.exten == "5001" and first.channel.state == 4
    dial = next(e for e in events if isinstance(e, DialUpdate))
    assert dial.caller is not None and dial.dest.endpoint == "5001"
    hangup = next(e for e in events if isinstance(e, ChannelHangup))
    assert hangup.cause == 16 and hangup.cause_txt == "Normal Clearing"
    booted = events[next(i for i, e in enumerate(events) if isinstance(e, AmiLink))]
    assert isinstance(booted, AmiLink) and booted.uptime == 157.0


def test_varset_of_the_call_uuid_updates_the_channel_variables() -> None:
    raw = parse_frame(NEWCHANNEL.replace("Event: Newchannel", "Event: VarSet").rstrip()
                      + "\r\nVariable: __CALLUUID\r\nValue: NEWUUID")
    ev = parse_ami(raw, 1.0)
    assert isinstance(ev, ChannelUpdate) and ev.channel.vars["CALLUUID"] == "NEWUUID"
    raw["Variable"] = "SOMETHING_ELSE"
    assert parse_ami(raw, 1.0) is None


def test_hold_bridge_transfer_and_link_events() -> None:
    base = parse_frame(NEWCHANNEL.rstrip())
    assert isinstance(parse_ami({**base, "Event": "Hold"}, 0), HoldUpdate)
    moh = parse_ami({**base, "Event": "MusicOnHoldStart", "Class": "ctibridge"}, 0)
    assert isinstance(moh, HoldUpdate) and moh.music and moh.held
    bridge = parse_ami({**base, "Event": "BridgeEnter", "BridgeUniqueid": "b1"}, 0)
    assert isinstance(bridge, BridgeUpdate) and bridge.entered
    blind = parse_ami({"Event": "BlindTransfer", "Result": "Success", "TransfererUniqueid": "1.1",
                       "TransfererChannel": "PJSIP/5001-1", "Extension": "5002"}, 0)
    assert isinstance(blind, TransferUpdate) and blind.transferer is not None and blind.exten == "5002"
    assert isinstance(parse_ami({"Event": "Shutdown", "Restart": "True"}, 0), AmiLink)


def test_malformed_messages_become_parse_errors_not_exceptions() -> None:
    assert isinstance(parse_ami({"Event": "Newchannel"}, 0), ParseError)
    assert isinstance(parse_ami({"Event": ["Hangup", "Hangup"]}, 0), ParseError)
    assert isinstance(parse_ami({"Event": "BridgeEnter", "Uniqueid": "1"}, 0), ParseError)
    assert parse_ami({"Event": "TestEvent"}, 0) is None
    assert parse_ami({"Response": "Success"}, 0) is None


def test_the_event_logs_internal_keys_on_the_wire_are_not_link_events() -> None:
    # the event log's own records ({"_link": ...} with dir "meta") are another namespace
    assert parse_ami({"_link": "shutdown"}, 0) is None
    assert parse_ami({"_link": "booted", "uptime": "-1"}, 0) is None
    assert to_event(Record(3.0, "ami", "in", {"_link": "lost"})) is None
    booted = Record(3.0, "ami", "meta", {"_link": "booted", "uptime": 2.5})
    assert to_event(booted) == AmiLink(3.0, "booted", 2.5)
    gws = Record(4.0, "gws", "meta", {"_link": "lost", "detail": "eof"}, "5001")
    assert to_event(gws) == GwsLink(4.0, "5001", "lost", "eof")
    for event in (AmiLink(5.0, "booted", -1.0), AmiLink(5.0, "lost"), GwsLink(5.0, "5001", "lost", "eof")):
        src, direction, msg = link_record(event)  # what the live pipeline writes reads back the same
        assert to_event(Record(event.t, src, direction, msg, "5001")) == event


@given(st.dictionaries(st.sampled_from(["Event", "Uniqueid", "Channel", "ChannelState", "Linkedid",
                                        "BridgeUniqueid", "Cause", "Variable", "Value", "ChanVariable",
                                        "DestUniqueid", "Uptime", "_link", "Result"]),
                       st.one_of(st.text(max_size=20), st.lists(st.text(max_size=10), max_size=3)),
                       max_size=10))
def test_parse_ami_never_raises(raw: dict) -> None:
    parse_ami(raw, 0.0)
