"""GwsSession/GwsAgents against the simulator: login, subscriptions, and every call scenario's
messages arriving and parsed by parse_gws into the expected events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import Recorder, call_states, established_call

from ctibridge.core.events import GwsCall, GwsCallsSnapshot, GwsCallUpdate, GwsDeviceUpdate
from ctibridge.gws import GwsAgents
from ctibridge.sim.gws import GwsSimulator

RECORDINGS = Path(__file__).parent.parent / "recordings" / "gws-wwe-8.5"
Agents = tuple[GwsAgents, Recorder]


def updates(recorder: Recorder, call_id: str) -> list[GwsCall]:
    return [e.call for e in recorder.events if isinstance(e, GwsCallUpdate) and e.call.id == call_id]


async def wait_states(recorder: Recorder, call_id: str, expected: list[str]) -> None:
    await recorder.wait_for(lambda: call_states(recorder, call_id) == expected)


async def test_login_subscribe_start_session_and_first_reread(sim: GwsSimulator, v2_agents: Agents) -> None:
    bridge, recorder = v2_agents
    assert {(s.dn, s.status) for s in bridge.status()} == {("5001", "connected"), ("5002", "connected")}
    assert sim.subscribed("5001", "/v2/me/calls") and sim.subscribed("5001", "/v2/me/devices")
    assert bridge.session_for_dn("5001").device_id == sim.agents["agent1"].device_id
    # StartContactCenterSession made GWS publish the device state; the REST re-read came as a snapshot
    await recorder.wait_for(
        lambda: any(isinstance(e, GwsDeviceUpdate) and e.dn == "5002" for e in recorder.events)
    )
    snapshots = [e for e in recorder.events if isinstance(e, GwsCallsSnapshot)]
    assert {s.dn for s in snapshots} == {"5001", "5002"} and all(s.calls == () for s in snapshots)


async def test_inbound_answered_then_released(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    call_id = sim.call_ringing("5001", ani="+15550001000", dnis="8000", user_data={"Segment": "Gold"})
    await wait_states(recorder, call_id, ["Ringing"])
    await bridge.operations("5001").answer(call_id)
    await wait_states(recorder, call_id, ["Ringing", "Established"])
    await bridge.operations("5001").hangup(call_id)
    await wait_states(recorder, call_id, ["Ringing", "Established", "Released"])
    ringing, established, released = updates(recorder, call_id)
    assert (ringing.ani, ringing.dnis, ringing.call_type, ringing.user_data) == (
        "+15550001000",
        "8000",
        "Inbound",
        {"Segment": "Gold"},
    )
    assert ringing.call_uuid == call_id and ringing.participants == ("+15550001000",)
    assert "Answer" in ringing.capabilities and "Hold" in established.capabilities
    assert released.capabilities == ()
    assert [o.name for o in sim.operations] == ["Answer", "Hangup"]
    dialect = bridge.sessions["agent1"].dialect.name
    assert {e.dialect for e in recorder.events if isinstance(e, GwsCallUpdate)} == {dialect}
    assert not any(e.dn == "5002" for e in recorder.events if isinstance(e, GwsCallUpdate))


async def test_outbound_dial(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    await bridge.operations("5001").dial("+15550002000")
    call = await recorder.wait_for(
        lambda: next(
            (e.call for e in recorder.events if isinstance(e, GwsCallUpdate) and e.call.state == "Dialing"),
            None,
        )
    )
    assert (call.call_type, call.participants, call.dnis) == ("Outbound", ("+15550002000",), "+15550002000")
    assert "Hangup" in call.capabilities
    sim.set_state(call.id, "Established")  # the far end answers
    await bridge.operations("5001").hangup(call.id)
    await wait_states(recorder, call.id, ["Dialing", "Established", "Released"])


async def test_hold_retrieve(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    ops = bridge.operations("5001")
    call_id = await established_call(sim, bridge, recorder)
    await ops.hold(call_id)
    await wait_states(recorder, call_id, ["Ringing", "Established", "Held"])
    held = updates(recorder, call_id)[-1]
    assert "Retrieve" in held.capabilities and "Hold" not in held.capabilities
    await ops.retrieve(call_id)
    await wait_states(recorder, call_id, ["Ringing", "Established", "Held", "Established"])
    assert "Hold" in updates(recorder, call_id)[-1].capabilities


async def test_blind_transfer(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    ops = bridge.operations("5001")
    call_id = await established_call(sim, bridge, recorder)
    await ops.single_step_transfer(call_id, "5002")
    await wait_states(recorder, call_id, ["Ringing", "Established", "Released"])
    assert updates(recorder, call_id)[-1].capabilities == ()
    assert sim.operations[-1].body == {
        "operationName": "SingleStepTransfer",
        "destination": {"phoneNumber": "5002"},
    }


async def consultation(recorder: Recorder) -> GwsCall:
    """The consult call (callType Consult), once it is Established."""
    consult: GwsCall = await recorder.wait_for(
        lambda: next(
            (
                e.call
                for e in recorder.events
                if isinstance(e, GwsCallUpdate) and e.call.call_type == "Consult"
            ),
            None,
        )
    )
    await wait_states(recorder, consult.id, ["Dialing", "Established"])
    return consult


async def test_consult_transfer(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    ops = bridge.operations("5001")
    call_id = sim.call_ringing("5001", ani="+15550001000", user_data={"Segment": "Gold"})
    await wait_states(recorder, call_id, ["Ringing"])
    await ops.answer(call_id)
    await ops.initiate_transfer(call_id, "5002")
    await wait_states(recorder, call_id, ["Ringing", "Established", "Held"])
    assert {"CompleteTransfer", "SwapCalls"} <= set(updates(recorder, call_id)[-1].capabilities)
    consult = await consultation(recorder)
    assert consult.id != call_id and consult.participants == ("5002",)
    assert consult.user_data == {"Segment": "Gold"}
    await ops.complete_transfer(consult.id)
    await wait_states(recorder, consult.id, ["Dialing", "Established", "Released"])
    assert call_states(recorder, call_id)[-1] == "Released"
    # documented order: the original call is released first, then the consult call
    released = [
        e.call.id for e in recorder.events if isinstance(e, GwsCallUpdate) and e.call.state == "Released"
    ]
    assert released == [call_id, consult.id]


async def test_abandoned_while_ringing(sim: GwsSimulator, agents: Agents) -> None:
    _, recorder = agents
    call_id = sim.call_ringing("5002", ani="+15550003000")
    await wait_states(recorder, call_id, ["Ringing"])
    sim.release(call_id)  # the caller hangs up before anyone answers
    await wait_states(recorder, call_id, ["Ringing", "Released"])
    assert all(e.dn == "5002" for e in recorder.events if isinstance(e, GwsCallUpdate))


async def test_attached_data_changed(sim: GwsSimulator, agents: Agents) -> None:
    _, recorder = agents
    call_id = sim.call_ringing("5001", ani="+15550001000")
    sim.attach_user_data(call_id, {"CaseId": "42"})
    await recorder.wait_for(
        lambda: any(
            isinstance(e, GwsCallUpdate) and e.notification == "AttachedDataChanged" for e in recorder.events
        )
    )
    assert updates(recorder, call_id)[-1].user_data == {"CaseId": "42"}


def _recorded(name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((RECORDINGS / name).read_text())
    return message


async def test_sim_messages_have_the_recorded_shape(sim: GwsSimulator, v2_agents: Agents) -> None:
    """Same keys at every level as the real GWS 8.5 messages (internal call, as recorded)."""
    bridge, recorder = v2_agents
    call_id = sim.call_ringing("5001", ani="5002", dnis="5001", call_type="Internal")
    sim.attach_user_data(call_id, {"k": "v"})
    await bridge.operations("5001").answer(call_id)
    await wait_states(recorder, call_id, ["Ringing", "Ringing", "Established"])
    ours = [raw for _, raw in recorder.raws if raw.get("data", {}).get("call", {}).get("id") == call_id]
    names = [
        "gws_v2_log1_03_CallStateChangeMessage_StatusChange_Ringing.json",
        "gws_v2_log1_04_CallStateChangeMessage_AttachedDataChanged_Ringing.json",
        "gws_v2_log1_05_CallStateChangeMessage_StatusChange_Established.json",
    ]
    for raw, name in zip(ours, names, strict=True):
        real = _recorded(name)
        assert raw["channel"] == real["channel"]
        assert set(raw["data"]) == set(real["data"]), name
        assert set(raw["data"]["call"]) == set(real["data"]["call"]), name
        assert set(raw["data"]["call"]["participants"][0]) == set(real["data"]["call"]["participants"][0])
        assert isinstance(raw["data"]["call"]["duration"], str)
        assert set(raw["data"]["metrics"]["eventProcessing"]) == set(
            real["data"]["metrics"]["eventProcessing"]
        )
    device = next(raw for _, raw in recorder.raws if raw.get("channel") == "/v2/me/devices")
    real_device = _recorded("gws_v2_log1_01_DeviceStateChangeMessage_na_NotReady.json")
    assert set(device["data"]) == set(real_device["data"])
    assert set(device["data"]["devices"][0]) == set(real_device["data"]["devices"][0])


async def test_consultation_cancelled_then_retrieved(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    ops = bridge.operations("5001")
    call_id = await established_call(sim, bridge, recorder)
    await ops.initiate_transfer(call_id, "5002")
    consult = await consultation(recorder)
    await ops.hangup(consult.id)  # the agent gives up on the consultation
    await wait_states(recorder, call_id, ["Ringing", "Established", "Held", "Held"])
    assert "CompleteTransfer" not in updates(recorder, call_id)[-1].capabilities
    await ops.retrieve(call_id)
    await wait_states(recorder, call_id, ["Ringing", "Established", "Held", "Held", "Established"])


async def test_consultation_cancelled_with_reconnect(sim: GwsSimulator, agents: Agents) -> None:
    """``Reconnect`` (the widget's cancel_transfer): consult released, original back Established."""
    bridge, recorder = agents
    ops = bridge.operations("5001")
    call_id = await established_call(sim, bridge, recorder)
    await ops.initiate_transfer(call_id, "5002")
    consult = await consultation(recorder)
    assert "Reconnect" in updates(recorder, consult.id)[-1].capabilities
    await ops.perform("Reconnect", consult.id)
    await wait_states(recorder, consult.id, ["Dialing", "Established", "Released"])
    await wait_states(recorder, call_id, ["Ringing", "Established", "Held", "Held", "Established"])


async def test_conference(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    ops = bridge.operations("5001")
    call_id = await established_call(sim, bridge, recorder)
    await ops.initiate_conference(call_id, "5002")
    consult = await consultation(recorder)
    await ops.complete_conference(consult.id, consult_call_id=call_id)
    await wait_states(recorder, consult.id, ["Dialing", "Established", "Released"])
    await wait_states(recorder, call_id, ["Ringing", "Established", "Held", "Established"])
    assert updates(recorder, call_id)[-1].participants == ("+15550001000", "5002")
    await ops.send_dtmf(call_id, "123#")
    assert sim.operations[-1].name == "SendDtmf" and sim.operations[-1].body["dtmfDigits"] == "123#"


async def test_consultation_driven_by_the_scenario(sim: GwsSimulator, agents: Agents) -> None:
    """The desktop (not the bridge) transfers: the same messages reach the bridge."""
    _, recorder = agents
    call_id = sim.call_ringing("5001", ani="+15550001000")
    sim.set_state(call_id, "Established")
    consult_id = sim.initiate_consultation(call_id, "5002")
    await wait_states(recorder, consult_id, ["Dialing", "Established"])
    sim.complete_consultation(consult_id)
    await wait_states(recorder, call_id, ["Ringing", "Established", "Held", "Released"])
    await wait_states(recorder, consult_id, ["Dialing", "Established", "Released"])
    assert sim.calls == {}
