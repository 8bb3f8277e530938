"""Correlator behaviour on hand-made event sequences: joining, ordering, faults, divergence, restore."""

from __future__ import annotations

import json

from ctibridge.core.actions import AmiOp
from ctibridge.core.correlator import Correlator, CorrelatorSettings
from ctibridge.core.deltas import Delta
from ctibridge.core.events import (
    AmiLink,
    BridgeUpdate,
    Channel,
    ChannelHangup,
    ChannelUpdate,
    DialUpdate,
    GwsCall,
    GwsCallsSnapshot,
    GwsCallUpdate,
    GwsLink,
    HoldUpdate,
    InboundEvent,
)

ESTABLISHED_CAPS = ("Hangup", "Hold", "SingleStepTransfer", "InitiateTransfer", "SendDtmf")


def trunk(uid: str, dn: str = "5001", *, state: int = 4, uuid: str = "", linked: str = "") -> Channel:
    return Channel(uid, linked or uid, f"PJSIP/genesys-{uid}", state, "from-genesys", dn, "+15550001000",
                   "Customer", vars={"CALLUUID": uuid, "SIPCALLID": ""})


def agent(uid: str, dn: str = "5001", *, state: int = 0, linked: str = "", uuid: str = "") -> Channel:
    return Channel(uid, linked or uid, f"PJSIP/{dn}-{uid}", state, "from-webrtc", dn, dn, "",
                   vars={"CALLUUID": uuid})


def gws(t: float, state: str, uuid: str = "UUID1", dn: str = "5001",
        caps: tuple[str, ...] = ESTABLISHED_CAPS, conn: str = "c1") -> GwsCallUpdate:
    call = GwsCall(uuid, state, call_uuid=uuid, conn_id=conn, call_type="Inbound", capabilities=caps,
                   participants=("+15550001000",), ani="+15550001000", dnis=dn)
    return GwsCallUpdate(t, dn, "StatusChange", call)


def inbound_call(uuid: str = "UUID1", dn: str = "5001", base: float = 0.0,
                 t_id: str = "1") -> list[InboundEvent]:
    """Asterisk's view of an inbound call answered by the agent (as in the real captures)."""
    tr, ag = f"{t_id}.0", f"{t_id}.1"
    return [
        ChannelUpdate(base + 0.001, "Newchannel", trunk(tr, dn)),
        ChannelUpdate(base + 0.002, "VarSet", trunk(tr, dn, uuid=uuid)),
        ChannelUpdate(base + 0.003, "Newchannel", agent(ag, dn, linked=tr, uuid=uuid)),
        DialUpdate(base + 0.004, trunk(tr, dn, uuid=uuid), agent(ag, dn, linked=tr, uuid=uuid), ""),
        ChannelUpdate(base + 0.005, "Newstate", agent(ag, dn, state=5, linked=tr, uuid=uuid)),
        ChannelUpdate(base + 0.006, "Newstate", agent(ag, dn, state=6, linked=tr, uuid=uuid)),
        ChannelUpdate(base + 0.007, "Newstate", trunk(tr, dn, state=6, uuid=uuid)),
        BridgeUpdate(base + 0.008, f"br-{t_id}", agent(ag, dn, state=6, linked=tr, uuid=uuid), True),
        BridgeUpdate(base + 0.009, f"br-{t_id}", trunk(tr, dn, state=6, uuid=uuid), True),
    ]


def hangups(dn: str = "5001", base: float = 1.0, t_id: str = "1") -> list[InboundEvent]:
    tr, ag = f"{t_id}.0", f"{t_id}.1"
    return [ChannelHangup(base, trunk(tr, dn, state=6), 16, "Normal Clearing"),
            ChannelHangup(base + 0.001, agent(ag, dn, state=6, linked=tr), 16, "Normal Clearing")]


def feed_all(core: Correlator, events: list[InboundEvent]) -> list[Delta]:
    out: list[Delta] = []
    for ev in events:
        out += core.tick(ev.t)
        out += core.feed(ev)
    return out


def test_genesys_first_then_asterisk_is_one_call() -> None:
    core = Correlator()
    deltas = feed_all(core, [GwsLink(0, "5001", "connected"), gws(0.0005, "Ringing", caps=("Answer",)),
                             *inbound_call(), gws(0.0065, "Established")])
    assert {d.call["id"] for d in deltas} == {"5001-1"}
    view = core.call("5001-1")
    assert view is not None and view["state"] == "established" and view["sync"]["status"] == "ok"
    assert view["call_uuid"] == "UUID1" and view["genesys"]["call_id"] == "UUID1"
    assert {c["role"] for c in view["asterisk"]["channels"]} == {"agent", "trunk"}


def test_asterisk_first_then_genesys_is_one_call() -> None:
    core = Correlator()
    deltas = feed_all(core, [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.0095, "Established")])
    assert {d.call["id"] for d in deltas} == {"5001-1"}
    deltas = feed_all(core, [*hangups(), gws(1.01, "Released", caps=())])
    assert deltas[-1].op.value == "removed" and core.calls() == []


def test_two_dns_never_mix_even_with_one_linkedid() -> None:
    """A customer leg transferred from 5001 to 5002 keeps its Linkedid; the two calls stay apart."""
    core = Correlator()
    feed_all(core, inbound_call())
    other_agent = agent("1.5", "5002", linked="1.0", uuid="UUID1")
    feed_all(core, [ChannelUpdate(0.1, "Newchannel", other_agent),
                    DialUpdate(0.11, trunk("1.0", uuid="UUID1", state=6), other_agent, ""),
                    ChannelHangup(0.12, agent("1.1", linked="1.0"), 16, "Normal Clearing")])
    calls = {c["dn"]: c for c in core.calls()}
    assert set(calls) == {"5002"}  # 5001's part ended; 5002 has its own call
    assert {ch["name"].split("-")[0] for ch in calls["5002"]["asterisk"]["channels"]} == {"PJSIP/5002",
                                                                                        "PJSIP/genesys"}


def test_duplicates_and_late_events_change_nothing() -> None:
    core = Correlator()
    events = inbound_call()
    feed_all(core, events)
    assert feed_all(core, events) == []  # the same events again
    feed_all(core, hangups())
    assert core.calls() == []
    assert feed_all(core, [ChannelUpdate(2.0, "Newstate", agent("1.1", state=6, linked="1.0"))]) == []
    assert core.calls() == []


def test_resync_ends_channels_that_died_while_disconnected() -> None:
    core = Correlator()
    feed_all(core, inbound_call())
    deltas = feed_all(core, [AmiLink(1.0, "lost"), AmiLink(2.0, "connected"), AmiLink(2.1, "resync_begin"),
                             AmiLink(2.2, "resync_end")])
    assert deltas[-1].op.value == "removed"
    assert deltas[-1].call["asterisk"]["hangup_text"] == "ended while the AMI link was down"


def test_resync_keeps_listed_channels() -> None:
    core = Correlator()
    feed_all(core, inbound_call())
    listed = [ChannelUpdate(2.15, "CoreShowChannel", trunk("1.0", state=6, uuid="UUID1"), bridge_id="br-1"),
              ChannelUpdate(2.16, "CoreShowChannel", agent("1.1", state=6, linked="1.0"), bridge_id="br-1")]
    feed_all(core, [AmiLink(1.0, "lost"), AmiLink(2.1, "resync_begin"), *listed, AmiLink(2.2, "resync_end")])
    (view,) = core.calls()
    assert view["state"] == "established"


def test_asterisk_restart_ends_every_call() -> None:
    core = Correlator()
    feed_all(core, [AmiLink(0.0, "booted", uptime=100.0), *inbound_call()])
    deltas = feed_all(core, [AmiLink(60.0, "booted", uptime=0.5)])
    assert deltas and deltas[-1].op.value == "removed" and core.calls() == []


def test_hold_divergence_becomes_diverged_after_grace_and_asks_for_a_repair() -> None:
    core = Correlator(CorrelatorSettings(grace=2.0))
    feed_all(core, [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.01, "Established")])
    held_caps = ("Retrieve", "Hangup")
    deltas = feed_all(core, [gws(1.0, "Held", caps=held_caps)])
    assert deltas[-1].call["sync"] == {"status": "pending", "rule": "held_in_genesys_only",
                                       "detail": deltas[-1].call["sync"]["detail"], "since": 1.0}
    assert core.drain_repairs() == []
    deltas = core.tick(3.5)
    assert deltas[-1].call["sync"]["status"] == "diverged"
    (repair,) = core.drain_repairs()
    assert repair.rule == "held_in_genesys_only"
    assert repair.step == AmiOp("hold", agent_channel="PJSIP/5001-1.1", trunk_channel="PJSIP/genesys-1.0")
    assert core.stats.divergences["held_in_genesys_only"] == 1
    # The repair's own effect: the customer leg lands in the hold context; the sides agree again.
    moved = Channel("1.0", "1.0", "PJSIP/genesys-1.0", 6, "ctibridge-hold", "moh", "+15550001000")
    deltas = feed_all(core, [BridgeUpdate(3.6, "br-1", moved, False),
                             BridgeUpdate(3.6, "br-1", agent("1.1", state=6, linked="1.0"), False),
                             ChannelUpdate(3.6, "Newexten", moved)])
    assert deltas[-1].call["sync"]["status"] == "ok" and deltas[-1].call["state"] == "held"


def test_a_hold_the_agent_asked_of_asterisk_alone_is_not_undone() -> None:
    core = Correlator(CorrelatorSettings(grace=1.0))
    feed_all(core, [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.01, "Established")])
    core.note_operation("5001-1", "ami_hold", 0.5)
    legs = (("1.0", "PJSIP/genesys-1.0", "moh"), ("1.1", "PJSIP/5001-1.1", "park"))
    parked = [Channel(uid, "1.0", name, 6, "ctibridge-hold", exten, "") for uid, name, exten in legs]
    feed_all(core, [BridgeUpdate(0.6, "br-1", parked[0], False), BridgeUpdate(0.6, "br-1", parked[1], False),
                    ChannelUpdate(0.6, "Newexten", parked[0]), ChannelUpdate(0.6, "Newexten", parked[1])])
    deltas = core.tick(20.0)
    assert deltas[-1].call["sync"]["rule"] == "held_in_asterisk_only"
    assert deltas[-1].call["sync"]["status"] == "diverged"
    assert core.drain_repairs() == []


def test_a_party_hold_is_not_undone_by_the_bridge() -> None:
    core = Correlator(CorrelatorSettings(grace=1.0))
    feed_all(core, [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.01, "Established"),
                    HoldUpdate(0.5, agent("1.1", state=6, linked="1.0"), True)])
    core.tick(5.0)
    assert core.drain_repairs() == []  # the browser's own SIP hold is the agent's to lift


def test_export_restore_continues_the_same_sequence() -> None:
    events = [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.01, "Established")]
    rest = [gws(1.0, "Held", caps=("Retrieve",)), HoldUpdate(1.001, trunk("1.0", state=6), True),
            *hangups(2.0), gws(2.01, "Released", caps=())]
    straight = Correlator()
    feed_all(straight, events)
    expected = feed_all(straight, rest)
    first = Correlator()
    feed_all(first, events)
    state = json.loads(json.dumps(first.export_state()))
    restored = Correlator.restore(state)
    assert restored.snapshot("5001") == first.snapshot("5001")
    assert [d.message() for d in feed_all(restored, rest)] == [d.message() for d in expected]


def test_incremental_exports_fold_into_the_full_state() -> None:
    from ctibridge.core.snapshot import merge_state

    core = Correlator()
    stored = core.export_state()
    for ev in [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.01, "Established"),
               *inbound_call("UUID2", "5002", 0.5, "2"), *hangups(1.0), gws(1.01, "Released", caps=())]:
        core.feed(ev)
        stored = merge_state(json.loads(json.dumps(stored)), json.loads(json.dumps(core.export_changes())))
        assert stored == json.loads(json.dumps(core.export_state()))
    restored = Correlator.restore(stored)
    assert restored.calls() == core.calls() and restored.snapshot("5002") == core.snapshot("5002")


def test_call_whose_audio_ended_is_dropped_after_linger_when_genesys_stays_silent() -> None:
    core = Correlator(CorrelatorSettings(linger=30.0))
    feed_all(core, [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.01, "Established"), *hangups()])
    assert core.calls() and core.calls()[0]["sync"]["rule"] == "asterisk_gone"
    assert core.tick(20.0) == [] or core.calls()
    deltas = core.tick(31.5)
    assert deltas[-1].op.value == "removed" and core.calls() == []


def test_genesys_snapshot_after_reconnect_releases_calls_it_no_longer_lists() -> None:
    core = Correlator()
    feed_all(core, [GwsLink(0, "5001", "connected"), gws(0.1, "Established")])
    deltas = feed_all(core, [GwsCallsSnapshot(5.0, "5001", ())])
    assert deltas[-1].op.value == "removed" and core.calls() == []


def test_v3_previous_conn_id_rekeys_the_same_call() -> None:
    core = Correlator()
    feed_all(core, [gws(0.1, "Established", uuid="U9", conn="c1")])
    renamed = GwsCallUpdate(0.2, "5001", "StateChange",
                            GwsCall("c2", "Held", call_uuid="U9", conn_id="c2", previous_conn_id="c1",
                                    capabilities=("Retrieve",)))
    deltas = feed_all(core, [renamed])
    (view,) = core.calls()
    assert view["id"] == "5001-1" and view["state"] == "held"
    assert view["genesys"]["previous_conn_ids"] == ["c1"]
    assert deltas[-1].op.value == "updated"


def test_outbound_without_call_uuid_joins_by_number_and_time() -> None:
    core = Correlator()
    out_agent = Channel("9.1", "9.1", "PJSIP/5001-9.1", 4, "from-webrtc", "5002", "5001", "")
    feed_all(core, [GwsLink(0, "5001", "connected"), ChannelUpdate(0.1, "Newchannel", out_agent),
                    GwsCallUpdate(0.2, "5001", "StatusChange",
                                  GwsCall("OUT1", "Dialing", call_uuid="OUT1", call_type="Internal",
                                          participants=("5002",), dnis="5002", capabilities=("Hangup",)))])
    (view,) = core.calls()
    assert view["direction"] == "internal" and view["genesys"] and view["asterisk"]
    assert view["sync"]["status"] == "ok" and view["state"] == "dialing"


def test_parse_errors_are_counted() -> None:
    from ctibridge.core.events import ParseError

    core = Correlator()
    assert core.feed(ParseError(0.0, "gws", "missing call")) == []
    assert core.stats.parse_errors["gws"] == 1


def test_a_genesys_consult_call_is_linked_to_the_held_call() -> None:
    core = Correlator()
    feed_all(core, [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.01, "Established"),
                    gws(1.0, "Held", caps=("Retrieve", "Hangup"))])
    caps = ("Hangup", "CompleteTransfer", "Reconnect")
    consult = GwsCallUpdate(1.1, "5001", "StatusChange",
                            GwsCall("CONSULT1", "Dialing", call_uuid="CONSULT1", call_type="Consult",
                                    participants=("5002",), dnis="5002", capabilities=caps))
    feed_all(core, [consult])
    views = {c["id"]: c for c in core.calls()}
    assert views["5001-2"]["parent_id"] == "5001-1" and views["5001-2"]["direction"] == "consult"
    assert views["5001-2"]["actions"] == ["hangup", "complete_transfer", "cancel_transfer"]
    v3 = GwsCallUpdate(1.2, "5001", "StateChange",
                       GwsCall("c9", "Dialing", conn_id="c9", parent_conn_id="c1", call_type="Consult"))
    feed_all(core, [v3])
    assert next(c for c in core.calls() if c["genesys"]["call_id"] == "c9")["parent_id"] == "5001-1"


def test_an_owner_taking_over_mid_hold_does_not_undo_the_bridges_own_hold() -> None:
    from ctibridge.core.snapshot import merge_state

    core = Correlator(CorrelatorSettings(grace=1.0))
    feed_all(core, [GwsLink(0, "5001", "connected"), *inbound_call(), gws(0.01, "Established")])
    stored = json.loads(json.dumps(core.export_state()))
    core.note_operation("5001-1", "ami_hold", 0.5)  # the old owner starts the hold, then dies
    stored = merge_state(stored, json.loads(json.dumps(core.export_changes())))
    successor = Correlator.restore(stored, CorrelatorSettings(grace=1.0))
    legs = (("1.0", "PJSIP/genesys-1.0", "moh"), ("1.1", "PJSIP/5001-1.1", "park"))
    parked = [Channel(uid, "1.0", name, 6, "ctibridge-hold", exten, "") for uid, name, exten in legs]
    feed_all(successor, [*(BridgeUpdate(0.6, "br-1", leg, False) for leg in parked),
                         *(ChannelUpdate(0.6, "Newexten", leg) for leg in parked)])
    deltas = successor.tick(20.0)
    assert deltas[-1].call["asterisk"]["held"] and deltas[-1].call["sync"]["rule"] == "held_in_asterisk_only"
    assert successor.drain_repairs() == []


def test_after_an_asterisk_consult_transfer_the_targets_call_is_the_customers_call() -> None:
    """Atxfer: the agent consults 5002 through a Local channel pair; on completion Asterisk bridges
    the ";1" half with the customer's trunk, the ";2" half stays bridged with 5002."""
    core = Correlator()
    customer = GwsCall("UUID1", "Established", call_uuid="UUID1", conn_id="c1", call_type="Inbound",
                       capabilities=ESTABLISHED_CAPS, participants=("+15550001000",), ani="+15550001000",
                       dnis="5001", user_data={"Segment": "Gold"})
    feed_all(core, [GwsLink(0, "5001", "connected"), *inbound_call(),
                    GwsCallUpdate(0.01, "5001", "StatusChange", customer)])
    half1 = Channel("L.1", "1.0", "Local/5002@ctibridge-xfer-00000000;1", 6, vars={"CALLUUID": "UUID1"})
    half2 = Channel("L.2", "1.0", "Local/5002@ctibridge-xfer-00000000;2", 6, vars={"CALLUUID": "UUID1"})
    target = agent("2.1", "5002", state=6, linked="1.0", uuid="UUID1")
    consulting = [ChannelUpdate(1.0, "Newchannel", half1), ChannelUpdate(1.0, "Newchannel", half2),
                  BridgeUpdate(1.1, "br-1", agent("1.1", state=6, linked="1.0"), False),
                  BridgeUpdate(1.1, "br-c", agent("1.1", state=6, linked="1.0"), True),
                  BridgeUpdate(1.1, "br-c", half1, True),
                  ChannelUpdate(1.2, "Newchannel", target), DialUpdate(1.2, half2, target, "ANSWER"),
                  BridgeUpdate(1.3, "br-2", target, True), BridgeUpdate(1.3, "br-2", half2, True)]
    feed_all(core, consulting)
    assert core.call("5002-1")["remote"]["number"] is None  # type: ignore[index]  # not yet transferred
    feed_all(core, [BridgeUpdate(2.0, "br-c", half1, False), BridgeUpdate(2.0, "br-1", half1, True),
                    BridgeUpdate(2.0, "br-c", agent("1.1", state=6, linked="1.0"), False),
                    ChannelHangup(2.1, agent("1.1", state=6, linked="1.0"), 16, "Normal Clearing")])
    view = core.call("5002-1")
    assert view is not None and view["state"] == "established"
    assert view["remote"] == {"number": "+15550001000", "name": "Customer"}
    assert view["call_uuid"] == "UUID1" and view["parent_id"] == "5001-1"
    assert view["user_data"] == {"Segment": "Gold"}
    assert {c["role"] for c in view["asterisk"]["channels"]} == {"agent", "trunk"}
