"""GWS operations carried out by the SIP Server stand-in against the real Asterisk 22 gateway,
with the bridge following AMI and GWS: what WWE asks reaches the gateway as SIP, and the bridge
reports both sides in sync."""

from __future__ import annotations

from typing import Any

import pytest
from web.webharness import Bridge, Widget, token, until

from ctibridge.sim.gws import SimAgent
from ctibridge.sim.sipserver.lab import GenesysLab

pytestmark = pytest.mark.asterisk

DN, TARGET = "5003", "5004"  # the lab DNs with a lab phone
WITHIN = 15.0


def agent_of(lab: GenesysLab, dn: str) -> SimAgent:
    return next(a for a in lab.gws.agents.values() if a.dn == dn)


def wwe(lab: GenesysLab, dn: str, call_id: str, operation: str, **body: Any) -> None:
    """The agent's WWE posts a call operation to GWS (what the REST route does)."""
    lab.gws.perform(agent_of(lab, dn), call_id, operation, {"operationName": operation, **body})


def destination(number: str) -> dict[str, Any]:
    return {"destination": {"phoneNumber": number}}


def in_sync(uuid: str, state: str) -> Any:
    def check(delta: dict[str, Any]) -> bool:
        call = delta["call"]
        return (call["call_uuid"] == uuid and call["state"] == state and call["sync"]["status"] == "ok"
                and call["genesys"] is not None and call["asterisk"] is not None)
    return check


def removed(uuid: str) -> Any:
    return lambda delta: delta["op"] == "removed" and delta["call"]["call_uuid"] == uuid


async def all_removed(widget: Widget, uuids: set[str]) -> None:
    """Each of these calls is removed from the widget, in whatever order."""
    left = set(uuids)
    while left:
        delta = await widget.next("delta", within=WITHIN,
                                  where=lambda d: d["op"] == "removed" and d["call"]["call_uuid"] in left)
        left.discard(delta["call"]["call_uuid"])


async def answered(lab: GenesysLab, bridge: Bridge, dn: str = DN) -> tuple[Widget, str]:
    widget = await bridge.widget(token(agent_of(lab, dn).username, dn), dn)
    await widget.next("snapshot")
    uuid = await lab.call(dn)
    await widget.next("delta", within=WITHIN, where=in_sync(uuid, "established"))
    return widget, uuid


async def test_hold_and_retrieve_in_wwe_reinvite_the_gateway(lab: GenesysLab, bridge: Bridge) -> None:
    widget, uuid = await answered(lab, bridge)
    wwe(lab, DN, uuid, "Hold")
    held = await widget.next("delta", within=WITHIN, where=in_sync(uuid, "held"))
    assert held["call"]["asterisk"]["held"] and lab.state(uuid).state == "held"
    assert lab.sip.leg_media[lab.state(uuid).leg] == "local_hold"  # our re-INVITE's a=sendonly, answered

    wwe(lab, DN, uuid, "Retrieve")
    await widget.next("delta", within=WITHIN, where=in_sync(uuid, "established"))
    assert not bridge.components.metrics.repairs.labels("ami_hold", "done")._value.get()  # nothing to repair
    await until(lambda: lab.state(uuid).state == "established")
    assert lab.sip.leg_media[lab.state(uuid).leg] == "active"


async def test_release_in_wwe_sends_bye(lab: GenesysLab, bridge: Bridge) -> None:
    widget, uuid = await answered(lab, bridge)
    wwe(lab, DN, uuid, "Hangup")
    await widget.next("delta", within=WITHIN, where=removed(uuid))
    call = await lab.sip.wait_state(uuid, "released")
    assert call.outcome == "released_by_agent" and uuid not in lab.gws.calls
    assert all(lab.sip.leg_states[leg] == "disconnected" for leg in lab.sip.phone_calls)


async def test_the_customer_hangs_up(lab: GenesysLab, bridge: Bridge) -> None:
    widget, uuid = await answered(lab, bridge)
    assert (await lab.rtp(uuid))["rx_level"] >= 0
    await lab.sip.customer_hangup(uuid)
    await widget.next("delta", within=WITHIN, where=removed(uuid))
    assert lab.state(uuid).outcome == "customer_hangup" and uuid not in lab.gws.calls


async def test_an_agent_call_out_is_answered_by_the_far_party(lab: GenesysLab, bridge: Bridge) -> None:
    widget = await bridge.widget(token(agent_of(lab, DN).username, DN), DN)
    await widget.next("snapshot")
    leg = await lab.sip.phone_dial(DN, "5550002000")
    call = await until(lambda: lab.sip.outbound_call(DN), within=WITHIN, what="the outbound call")
    await widget.next("delta", within=WITHIN, where=in_sync(call.uuid, "established"))
    assert call.party == "5550002000" and lab.gws.calls[call.uuid].state == "Established"
    await lab.sip.phone_hangup(leg)
    await widget.next("delta", within=WITHIN, where=removed(call.uuid))


async def test_single_step_transfer_rings_the_target_with_the_same_call_uuid(lab: GenesysLab,
                                                                           bridge: Bridge) -> None:
    widget, uuid = await answered(lab, bridge)
    target = await bridge.widget(token(agent_of(lab, TARGET).username, TARGET), TARGET)
    await target.next("snapshot")
    wwe(lab, DN, uuid, "SingleStepTransfer", **destination(TARGET))
    await widget.next("delta", within=WITHIN, where=removed(uuid))
    await target.next("delta", within=WITHIN, where=in_sync(uuid, "established"))
    assert list(lab.sip.phone_calls.values()) == [uuid, uuid]  # both INVITEs carried the CallUUID
    assert lab.gws.calls[uuid].dn == TARGET and len(lab.state(uuid).legs) == 2
    stats = await lab.rtp(uuid)
    assert stats["active"] and lab.state(uuid).dn == TARGET


async def consulting(lab: GenesysLab, bridge: Bridge, operation: str) -> tuple[Widget, str, str]:
    """An answered call on DN, then WWE's InitiateTransfer/InitiateConference to TARGET: the call
    is held in sync and the consult call (a new CallUUID, on a new leg of the agent) is in sync."""
    widget, uuid = await answered(lab, bridge)
    wwe(lab, DN, uuid, operation, **destination(TARGET))
    await widget.next("delta", within=WITHIN, where=in_sync(uuid, "held"))
    consult = await until(lambda: lab.state(uuid).consult, within=WITHIN, what="the consult call")
    await widget.next("delta", within=WITHIN, where=in_sync(consult, "established"))
    return widget, uuid, consult


async def test_consult_then_complete_transfer(lab: GenesysLab, bridge: Bridge) -> None:
    widget, uuid, consult = await consulting(lab, bridge, "InitiateTransfer")
    wwe(lab, DN, consult, "CompleteTransfer")
    await all_removed(widget, {uuid, consult})
    await until(lambda: lab.state(uuid).dn == TARGET and lab.state(uuid).state == "established")
    assert uuid not in lab.gws.calls and consult not in lab.gws.calls  # both of the agent's released
    assert (await lab.rtp(uuid))["active"]  # the customer now talks on the target's leg


async def test_consult_then_reconnect(lab: GenesysLab, bridge: Bridge) -> None:
    widget, uuid, consult = await consulting(lab, bridge, "InitiateTransfer")
    wwe(lab, DN, consult, "Reconnect")
    await widget.next("delta", within=WITHIN, where=removed(consult))
    await widget.next("delta", within=WITHIN, where=in_sync(uuid, "established"))
    assert lab.state(uuid).dn == DN and lab.gws.calls[uuid].state == "Established"


async def test_consult_then_complete_conference(lab: GenesysLab, bridge: Bridge) -> None:
    widget, uuid, consult = await consulting(lab, bridge, "InitiateConference")
    wwe(lab, DN, consult, "CompleteConference")
    await widget.next("delta", within=WITHIN, where=removed(consult))
    await widget.next("delta", within=WITHIN, where=in_sync(uuid, "established"))
    call = lab.state(uuid)
    assert call.dn == DN and len(call.conference) == 1  # the target's leg is mixed into the call
    assert TARGET in lab.gws.calls[uuid].participants


async def test_single_step_conference_adds_the_target(lab: GenesysLab, bridge: Bridge) -> None:
    widget, uuid = await answered(lab, bridge)
    wwe(lab, DN, uuid, "SingleStepConference", **destination(TARGET))
    await until(lambda: TARGET in lab.gws.calls[uuid].participants, within=WITHIN, what="the target joined")
    call = lab.state(uuid)
    assert len(call.conference) == 1 and lab.sip.leg_states[call.conference[0]] == "confirmed"
    assert list(lab.sip.phone_calls.values()) == [uuid, uuid]  # the target's INVITE had the CallUUID
    await lab.sip.customer_hangup(uuid)  # the customer leaves: every leg of the conference ends
    await widget.next("delta", within=WITHIN, where=removed(uuid))
    await until(lambda: lab.sip.leg_states[call.conference[0]] == "disconnected", within=WITHIN)


async def test_the_customer_leaving_ends_the_consultation(lab: GenesysLab, bridge: Bridge) -> None:
    widget, uuid, consult = await consulting(lab, bridge, "InitiateTransfer")
    await lab.sip.customer_hangup(uuid)
    await all_removed(widget, {uuid, consult})  # no consult card left Established
    assert not lab.sip.consultations and consult not in lab.gws.calls
