"""Garbage into the parsers and the correlator: counted, no effect on a live call, no memory growth.

The AMI bytes go through the real framer (``AmiFramer``: invalid UTF-8, huge frames, frames without
``Event``), the GWS messages through ``parse_gws`` (wrong types, missing fields, unknown channels and
notifications), interleaved with a real call's recorded events on another DN. Memory is measured
with tracemalloc after a first batch and again after a second batch of the same size: what the
core retains must not grow with the amount of garbage it has seen.
"""

from __future__ import annotations

import gc
import random
import tracemalloc
from pathlib import Path
from typing import Any

from ctibridge.core.ami_parse import AmiFramer, parse_ami
from ctibridge.core.correlator import Correlator, CorrelatorSettings
from ctibridge.core.gws_parse import parse_gws
from ctibridge.logs.eventlog import read_records, to_event

RECORDING = Path(__file__).parent.parent / "recordings" / "hold_retrieve_genesys.jsonl"
BATCH = 3000
SETTINGS = CorrelatorSettings(dns=frozenset({"5001", "5002"}))  # as the service configures it
malformed = [0]  # malformed messages generated so far


def ami_garbage(rng: random.Random) -> bytes:
    kind = rng.randrange(7)
    malformed[0] += kind in AMI_MALFORMED
    if kind == 0:  # invalid UTF-8 in a frame
        return b"Event: Newchannel\r\nChannel: PJSIP/\xff\xfe\xfd-0001\r\nUniqueid: \xc3(\r\n\r\n"
    if kind == 1:  # a huge frame
        return b"Event: VarSet\r\nValue: " + b"A" * rng.randrange(70_000, 200_000) + b"\r\n\r\n"
    if kind == 2:  # no Event, no Response
        return b"Foo: bar\r\nBaz: " + str(rng.random()).encode() + b"\r\n\r\n"
    if kind == 3:  # an unknown event
        return f"Event: Nonsense{rng.randrange(10**6)}\r\nUniqueid: {rng.random()}\r\n\r\n".encode()
    if kind == 4:  # a known event with missing fields
        return rng.choice([b"Event: Newchannel\r\n\r\n", b"Event: Hangup\r\n\r\n",
                           b"Event: BridgeEnter\r\n\r\n",
                           b"Event: DialBegin\r\nDestChannel: PJSIP/5009-x\r\n\r\n"])
    if kind == 5:  # lines without a colon, binary noise
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) + b"\r\n\r\n"
    # a known event with wrong values
    return (f"Event: Newstate\r\nUniqueid: {'x' * rng.randrange(1, 50)}\r\nChannelState: banana\r\n"
            f"Channel: PJSIP/{rng.randrange(10**9)}\r\n\r\n").encode()


def gws_garbage(rng: random.Random) -> Any:
    kind = rng.randrange(6)
    malformed[0] += kind in GWS_MALFORMED
    if kind == 0:
        return {"channel": "/v2/me/calls", "data": {"messageType": "CallStateChangeMessage",
                                                    "notificationType": "StatusChange", "call": rng.random()}}
    if kind == 1:
        return {"channel": "/v2/me/calls", "data": {"messageType": "CallStateChangeMessage",
                                                    "call": {"id": None, "state": 7, "participants": "x"}}}
    if kind == 2:
        return {"channel": f"/v2/me/unknown{rng.randrange(1000)}", "data": {"x": [1, 2, 3]}}
    if kind == 3:
        return {"channel": "/v2/me/calls", "data": "x" * rng.randrange(1, 100_000)}
    if kind == 4:
        return [rng.random(), None, {"channel": 5}]
    return {"rest": "calls", "dn": "5001", "body": {"data": {"calls": [{"id": 3}]}}}


# Which garbage is malformed (a ParseError, counted); the rest is a kind the bridge does not use
# (ignored: unknown events and channels) or an event for a channel of no agent DN (changes nothing).
AMI_MALFORMED = {4}
GWS_MALFORMED = {0, 1, 3, 4, 5}


def feed_garbage(core: Correlator, framer: AmiFramer, rng: random.Random, n: int, t: float) -> float:
    for _ in range(n):
        t += 0.001
        for raw in framer.feed(ami_garbage(rng)):
            event = parse_ami(raw, t)
            if event is not None:
                core.feed(event)
        event = parse_gws(gws_garbage(rng), t, dn="5002")
        if event is not None:
            core.feed(event)
        core.tick(t)
    return t


def retained() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def live_call_view(core: Correlator) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k not in ("state_since", "t")} for c in core.snapshot("5001")[1]]


def test_garbage_is_counted_leaves_the_live_call_alone_and_memory_flat() -> None:
    records = [r for r in read_records(RECORDING) if r.dir == "in"]
    half = len(records) // 2
    # the reference: the recorded call alone, stopped half-way (the call is live)
    ref = Correlator(SETTINGS)
    for r in records[:half]:
        event = to_event(r)
        if event is not None:
            ref.feed(event)
    assert ref.snapshot("5001")[1], "the recording's call is live half-way"

    core = Correlator(SETTINGS)
    framer = AmiFramer()
    framer.feed(b"Asterisk Call Manager/11.0.0\r\n")
    rng = random.Random(7)
    tracemalloc.start()
    try:
        t = 0.0
        for r in records[:half]:  # the live call, with garbage between its events
            t = feed_garbage(core, framer, rng, 3, r.t - 0.01)
            event = to_event(r)
            if event is not None:
                core.feed(event)
        t = max(t, records[half - 1].t)
        t = feed_garbage(core, framer, rng, BATCH, t)
        first = retained()
        errors_first, malformed_first = sum(core.stats.parse_errors.values()), malformed[0]
        t = feed_garbage(core, framer, rng, BATCH, t)
        second = retained()
    finally:
        tracemalloc.stop()
    errors = sum(core.stats.parse_errors.values())
    assert errors - errors_first == malformed[0] - malformed_first, f"not all counted: {errors}"
    assert second - first < 256 * 1024, f"retained memory grew {second - first} B over {BATCH} garbage pairs"
    # no effect on the other call: apart from times, the same view as without any garbage
    got, want = live_call_view(core), live_call_view(ref)
    assert [c["state"] for c in got] == [c["state"] for c in want]
    assert [(c["call_uuid"], c["state"], c["genesys"], c["asterisk"]) for c in got] == \
        [(c["call_uuid"], c["state"], c["genesys"], c["asterisk"]) for c in want]
    assert [c for c in core.calls() if c["dn"] != "5001"] == [], "garbage created a call"
