"""parse_gws over every recorded GWS 8.5 message, the v3 dialect, REST records, and fuzzing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctibridge.core.events import GwsCallsSnapshot, GwsCallUpdate, GwsDeviceUpdate, ParseError
from ctibridge.core.gws_parse import parse_gws, v3_capability_to_v2

RECORDINGS = Path(__file__).parent.parent / "recordings" / "gws-wwe-8.5"
RECORDED = sorted(RECORDINGS.glob("gws_v2_*.json"))


def load(name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((RECORDINGS / name).read_text())
    return message


def test_recordings_present() -> None:
    assert len(RECORDED) == 5


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_every_recorded_message_parses_without_loss(path: Path) -> None:
    raw = json.loads(path.read_text())
    event = parse_gws(raw, 1.5, dn="ignored")
    data = raw["data"]
    if data["messageType"] == "DeviceStateChangeMessage":
        assert isinstance(event, GwsDeviceUpdate)
        device = data["devices"][0]
        assert (event.t, event.dn, event.agent_state) == (1.5, "1002", device["userState"]["state"])
        return
    assert isinstance(event, GwsCallUpdate)
    call, rec = event.call, data["call"]
    assert event.dn == data["phoneNumber"] == "1002"
    assert event.notification == data["notificationType"]
    assert event.dialect == "v2"
    assert call.id == rec["id"] and call.call_uuid == rec["callUuid"] and call.conn_id == rec["connId"]
    assert call.state == rec["state"] and call.call_type == rec["callType"] == "Internal"
    assert list(call.capabilities) == rec["capabilities"]
    assert call.participants == ("1003",)
    assert call.ani == "" and call.dnis == "1002"
    assert call.user_data == rec["userData"]  # nested WWE_PARTY_* objects kept as they are
    assert call.duration == int(rec["duration"])


def test_recorded_ready_state() -> None:
    event = parse_gws(load("gws_v2_log1_02_DeviceStateChangeMessage_na_Ready.json"), 0.0)
    assert event == GwsDeviceUpdate(0.0, "1002", "Ready", "")


def test_session_dn_used_when_message_names_none() -> None:
    raw = load("gws_v2_log1_03_CallStateChangeMessage_StatusChange_Ringing.json")
    del raw["data"]["phoneNumber"]
    event = parse_gws(raw, 0.0, dn="5001")
    assert isinstance(event, GwsCallUpdate) and event.dn == "5001"


def test_old_participants_shape_string_array() -> None:
    raw = load("gws_v2_log1_05_CallStateChangeMessage_StatusChange_Established.json")
    raw["data"]["call"]["participants"] = ["5000"]
    raw["data"]["call"]["participantsInfo"] = [
        {"digits": "5000", "e164Number": "", "formattedPhoneNumber": "5000"}
    ]
    raw["data"]["call"]["ani"] = "5000"
    event = parse_gws(raw, 0.0)
    assert isinstance(event, GwsCallUpdate)
    assert event.call.participants == ("5000",) and event.call.ani == "5000"


def test_released_with_empty_capabilities() -> None:
    raw = load("gws_v2_log1_05_CallStateChangeMessage_StatusChange_Established.json")
    raw["data"]["call"].update(state="Released", capabilities=[], duration="280")
    event = parse_gws(raw, 0.0)
    assert isinstance(event, GwsCallUpdate)
    assert (event.call.state, event.call.capabilities, event.call.duration) == ("Released", (), 280)


V3_RINGING: dict[str, Any] = {
    "channel": "/workspace/v3/voice",
    "data": {
        "messageType": "CallStateChanged",
        "notificationType": "StateChange",
        "call": {
            "id": "00f1027f4a7a2001",
            "connId": "00f1027f4a7a2001",
            "callUuid": "01UL6QHLFC8KB2Q3SK5RKEH4A000001",
            "previousConnId": "00f1027f4a7a2000",
            "parentConnId": "00f1027f4a7a1fff",
            "callType": "Inbound",
            "state": "Ringing",
            "phoneNumber": "5001",
            "dnis": "5001",
            "ani": "+15550001000",
            "participants": [{"number": "+15550001000", "role": "RoleOrigination"}],
            "capabilities": [
                "answer",
                "clear",
                "redirect",
                "attach-user-data",
                "send-dtmf",
                "single-step-transfer",
                "initiate-transfer",
                "complete-transfer",
                "release",
                "hold",
                "start-recording",
                "alternate",
            ],
            "userData": [
                {"key": "Segment", "type": "str", "value": "Gold"},
                {"key": "Priority", "type": "int", "value": 3},
            ],
            "extensions": {},
            "duration": 0,
        },
    },
}


def test_v3_call_state_changed() -> None:
    event = parse_gws(V3_RINGING, 2.0, dn="x")
    assert isinstance(event, GwsCallUpdate)
    assert (event.dialect, event.notification, event.dn) == ("v3", "StatusChange", "5001")
    call = event.call
    assert (call.id, call.call_uuid, call.state, call.call_type) == (
        "00f1027f4a7a2001",
        "01UL6QHLFC8KB2Q3SK5RKEH4A000001",
        "Ringing",
        "Inbound",
    )
    assert (call.previous_conn_id, call.parent_conn_id) == ("00f1027f4a7a2000", "00f1027f4a7a1fff")
    assert call.capabilities == (
        "Answer",
        "ClearCall",
        "Redirect",
        "AttachUserData",
        "SendDtmf",
        "SingleStepTransfer",
        "InitiateTransfer",
        "CompleteTransfer",
        "Hangup",
        "Hold",
        "StartCallRecording",
        "SwapCalls",
    )
    assert call.participants == ("+15550001000",) and call.ani == "+15550001000"
    assert call.user_data == {"Segment": "Gold", "Priority": 3}


def test_v3_recorded_capabilities_all_map_to_pascal_case() -> None:
    text = (RECORDINGS / "v3_simulator_capabilities.yaml").read_text()
    names = set(re.findall(r"^\s*- (\S+)$", text, re.M))
    assert {"hold", "release", "single-step-transfer", "complete-transfer"} <= names
    for name in names:
        assert re.fullmatch(r"[A-Z][A-Za-z]+", v3_capability_to_v2(name)), name
    assert v3_capability_to_v2("delete-user-data-pair") == "DeleteUserDataPair"


def test_v3_dn_state_changed() -> None:
    raw = {
        "channel": "/workspace/v3/voice",
        "data": {
            "messageType": "DnStateChanged",
            "dn": {
                "number": "5001",
                "agentId": "agent1",
                "agentState": "NotReady",
                "agentWorkMode": "AfterCallWork",
            },
        },
    }
    assert parse_gws(raw, 1.0) == GwsDeviceUpdate(1.0, "5001", "NotReady", "AfterCallWork")


def test_rest_snapshot_v2_and_v3() -> None:
    recorded = load("gws_v2_log1_05_CallStateChangeMessage_StatusChange_Established.json")["data"]["call"]
    v2 = parse_gws({"rest": "calls", "dn": "1002", "body": {"statusCode": 0, "calls": [recorded]}}, 3.0)
    assert isinstance(v2, GwsCallsSnapshot) and v2.dn == "1002"
    assert [c.id for c in v2.calls] == [recorded["id"]] and v2.calls[0].state == "Established"
    empty = parse_gws({"rest": "calls", "body": {"statusCode": 0, "calls": []}}, 3.0, dn="5001")
    assert empty == GwsCallsSnapshot(3.0, "5001", ())
    v3 = parse_gws(
        {
            "rest": "calls",
            "dn": "5001",
            "body": {"status": {"code": 0}, "data": {"calls": [V3_RINGING["data"]["call"]]}},
        },
        3.0,
    )
    assert isinstance(v3, GwsCallsSnapshot) and v3.calls[0].capabilities[0] == "Answer"


@pytest.mark.parametrize(
    "raw",
    [
        {"channel": "/meta/connect", "successful": True},
        {"channel": "/meta/handshake", "successful": True, "clientId": "x"},
        {"channel": "/v2/me/calls", "data": {"messageType": "SomethingNew"}},
        {"channel": "/v2/me", "data": {"messageType": "PasswordChangeMessage"}},
        {
            "channel": "/workspace/v3/initialization",
            "data": {"messageType": "WorkspaceInitializationComplete"},
        },
        {"channel": "/workspace/v3/voice", "data": {"messageType": "EventError"}},
    ],
)
def test_ignored_kinds(raw: dict[str, Any]) -> None:
    assert parse_gws(raw, 0.0) is None


def _call_message(**call: Any) -> dict[str, Any]:
    return {
        "channel": "/v2/me/calls",
        "data": {"messageType": "CallStateChangeMessage", "notificationType": "StatusChange", "call": call},
    }


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not a dict", "not an object"),
        ({"data": {}}, "missing channel"),
        ({"channel": "/v2/me/calls"}, "missing data"),
        ({"channel": "/v2/me/calls", "data": []}, "data: expected an object"),
        (_call_message(state="Ringing"), "call without id"),
        (_call_message(id="C1"), "call without state"),
        (_call_message(id="C1", state="Ringing", capabilities="Answer"), "capabilities: expected a list"),
        (_call_message(id="C1", state="Ringing", duration="soon"), "duration"),
        (_call_message(id=["C1"], state="Ringing"), "id: expected a string"),
        (_call_message(id="C1", state="Ringing", userData=7), "userData"),
        (
            {"channel": "/v2/me/devices", "data": {"messageType": "DeviceStateChangeMessage", "devices": []}},
            "empty",
        ),
        ({"rest": "calls", "body": {"statusCode": 2, "calls": []}}, "status"),
        ({"rest": "devices", "body": {}}, "unknown rest record"),
    ],
)
def test_malformed_gives_parse_error(raw: Any, reason: str) -> None:
    event = parse_gws(raw, 4.0)
    assert isinstance(event, ParseError), event
    assert event.source == "gws" and event.t == 4.0 and reason in event.reason
    assert event.excerpt


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)
KEYS = st.sampled_from(
    [
        "id",
        "state",
        "callUuid",
        "capabilities",
        "participants",
        "userData",
        "duration",
        "ani",
        "devices",
        "userState",
        "call",
        "dn",
        "number",
        "key",
        "value",
        "calls",
    ]
)
SHAPED = st.fixed_dictionaries(
    {
        "channel": st.sampled_from(
            ["/v2/me/calls", "/v2/me/devices", "/workspace/v3/voice", "/meta/connect"]
        ),
        "data": st.fixed_dictionaries(
            {
                "messageType": st.sampled_from(
                    [
                        "CallStateChangeMessage",
                        "DeviceStateChangeMessage",
                        "CallStateChanged",
                        "DnStateChanged",
                    ]
                )
            },
            optional={
                "call": st.dictionaries(KEYS, JSON, max_size=8),
                "dn": st.dictionaries(KEYS, JSON),
                "devices": st.lists(st.dictionaries(KEYS, JSON) | JSON, max_size=3),
                "notificationType": JSON,
                "phoneNumber": JSON,
            },
        ),
    }
) | st.fixed_dictionaries(
    {
        "rest": st.just("calls"),
        "body": st.dictionaries(
            st.sampled_from(["statusCode", "calls", "data", "status"]),
            JSON | st.lists(st.dictionaries(KEYS, JSON)),
        ),
    }
)


@settings(max_examples=250, deadline=None)
@given(st.one_of(JSON, SHAPED))
def test_fuzz_never_raises(raw: Any) -> None:
    event = parse_gws(raw, 0.0, dn="5001")
    assert event is None or type(event).__name__.startswith(("Gws", "Parse"))
