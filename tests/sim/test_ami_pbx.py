"""The simulated gateway emits the recorded Asterisk 22 sequences, and the core understands them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctibridge.core.ami_parse import iter_capture, parse_ami
from ctibridge.core.correlator import Correlator
from ctibridge.core.events import ParseError
from ctibridge.sim.ami.pbx import AmiEvent, Pbx

RECORDINGS = Path(__file__).parent.parent / "recordings" / "asterisk-22"
NOISE = {
    "VarSet",
    "Newexten",
    "TestEvent",
    "DeviceStateChange",
    "RTCPSent",
    "RTCPReceived",
    "SuccessfulAuth",
    "FullyBooted",
    None,
}


def _shape(msg: AmiEvent, trunk: str) -> tuple[str, str]:
    """(event, role of its channel): comparable across runs whatever the ids."""
    name = str(msg.get("Channel", ""))
    role = "" if not name else ("trunk" if name.startswith(f"PJSIP/{trunk}-") else "agent")
    return str(msg.get("Event")), role


def recorded(name: str) -> list[tuple[str, str]]:
    data = (RECORDINGS / f"{name}.ami.txt").read_bytes()
    return [_shape(m, "genesys") for m in iter_capture(data) if m.get("Event") not in NOISE]


def simulated(play: str) -> list[AmiEvent]:
    events: list[AmiEvent] = []
    pbx = Pbx(events.append, lambda delay, fn: None)
    if play == "c_abandon":
        trunk, _ = pbx.inbound_ring("5001", "+15550001000", "Genesys", "UUID1", "1-1@127.0.0.2")
        pbx.abandon(trunk)
    elif play == "d_outbound":
        agent, trunk = pbx.outbound_dial("5001", "5002")
        pbx.outbound_answered(trunk)
        pbx.hangup(agent)
    else:
        trunk, agent = pbx.inbound_ring("5001", "+15550001000", "Genesys", "UUID1", "1-1@127.0.0.2")
        pbx.answer(agent)
        if play == "b_hold":
            pbx.reinvite_hold(trunk, True)
            pbx.reinvite_hold(trunk, False)
        pbx.hangup(trunk)
    return events


# a_basic is b_hold without the re-INVITEs, except that its DialState RINGING came before the agent's
# Newstate Ringing: the two are raced in Asterisk; the simulator follows the b/c/d order.
@pytest.mark.parametrize("capture", ["b_hold", "c_abandon", "d_outbound"])
def test_sequences_match_the_recorded_captures(capture: str) -> None:
    sim = [_shape(m, "genesys") for m in simulated(capture) if m.get("Event") not in NOISE]
    assert sim == recorded(capture)


def test_fresh_ids_and_inherited_call_uuid() -> None:
    events = simulated("a_basic")
    uids = {m["Uniqueid"] for m in events if m.get("Event") == "Newchannel"}
    assert len(uids) == 2
    dial = next(m for m in events if m.get("Event") == "DialBegin")
    assert "CALLUUID=UUID1" in dial["ChanVariable"] and "CALLUUID=UUID1" in dial["DestChanVariable"]
    assert dial["DestLinkedid"] == dial["Linkedid"]


def test_the_core_parses_every_simulated_event_and_sees_one_call() -> None:
    core = Correlator()
    for i, msg in enumerate(simulated("a_basic")):
        event = parse_ami(msg, i * 0.01)
        assert not isinstance(event, ParseError)
        if event is not None:
            core.feed(event)
    assert core.stats.parse_errors == {}
