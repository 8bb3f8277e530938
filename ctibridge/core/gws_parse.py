"""Raw GWS messages (Bayeux JSON, REST re-read records) -> normalized inbound events.

Two dialects arrive here: GWS 8.5 API v2 (``/v2/me/calls``, ``/v2/me/devices``) and Workspace API v3
(``/workspace/v3/voice``). Both become the v2-shaped :class:`GwsCall`; v3 kebab-case capabilities are
renamed to the v2 operation names so the rest of the core knows one vocabulary.

Pure and total: any input gives an event, ``None`` (a kind we ignore) or a :class:`ParseError`;
nothing here raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ctibridge.core.events import (
    GwsCall,
    GwsCallsSnapshot,
    GwsCallUpdate,
    GwsDeviceUpdate,
    InboundEvent,
    ParseError,
)

V2_CALLS = "/v2/me/calls"
V2_DEVICES = "/v2/me/devices"
V3_VOICE = "/workspace/v3/voice"

# v3 capability -> v2 operation name where the plain kebab->Pascal rule gives another word.
V3_RENAMED_CAPABILITIES = {
    "release": "Hangup",
    "clear": "ClearCall",
    "alternate": "SwapCalls",
    "start-recording": "StartCallRecording",
    "stop-recording": "StopCallRecording",
    "pause-recording": "PauseCallRecording",
    "resume-recording": "ResumeCallRecording",
}

_EXCERPT_CHARS = 200


class _Malformed(Exception):
    """Internal signal: the message cannot be understood; becomes a ParseError at the top."""


def parse_gws(raw: Mapping[str, Any], t: float, dn: str = "") -> InboundEvent | None:
    """Turn one raw GWS message into an event; ``dn`` is the session's DN, used when the message
    does not name one. Meta channels and message kinds the bridge does not use give ``None``."""
    try:
        if not isinstance(raw, Mapping):
            raise _Malformed("message is not an object")
        if "rest" in raw:
            return _parse_rest_record(raw, t, dn)
        channel = raw.get("channel")
        if not isinstance(channel, str):
            raise _Malformed("missing channel")
        if channel.startswith("/meta/"):
            return None
        if channel in (V2_CALLS, V2_DEVICES, V3_VOICE):
            return _parse_data(channel, _mapping(raw, "data"), t, dn)
        return None
    except _Malformed as exc:
        return ParseError(t, "gws", str(exc), _excerpt(raw))


def v3_capability_to_v2(name: str) -> str:
    """``single-step-transfer`` -> ``SingleStepTransfer``, ``release`` -> ``Hangup``."""
    return V3_RENAMED_CAPABILITIES.get(name) or "".join(part.capitalize() for part in name.split("-"))


# --------------------------------------------------------------------------- message kinds


def _parse_data(channel: str, data: Mapping[str, Any], t: float, dn: str) -> InboundEvent | None:
    kind = data.get("messageType")
    if channel == V2_CALLS and kind == "CallStateChangeMessage":
        call = _parse_call(_mapping(data, "call"), v3=False)
        return GwsCallUpdate(t, _str(data, "phoneNumber") or dn, _str(data, "notificationType"), call)
    if channel == V2_DEVICES and kind == "DeviceStateChangeMessage":
        return _parse_v2_devices(data, t, dn)
    if channel == V3_VOICE and kind == "CallStateChanged":
        call_raw = _mapping(data, "call")
        call = _parse_call(call_raw, v3=True)
        notification = _str(data, "notificationType")
        if notification == "StateChange":  # v3 spelling of v2's StatusChange
            notification = "StatusChange"
        call_dn = _str(data, "phoneNumber") or _str(call_raw, "phoneNumber") or dn
        return GwsCallUpdate(t, call_dn, notification, call, dialect="v3")
    if channel == V3_VOICE and kind == "DnStateChanged":
        dn_raw = _mapping(data, "dn")
        return GwsDeviceUpdate(
            t, _str(dn_raw, "number") or dn, _str(dn_raw, "agentState"), _str(dn_raw, "agentWorkMode")
        )
    return None


def _parse_v2_devices(data: Mapping[str, Any], t: float, dn: str) -> GwsDeviceUpdate:
    devices = [_as_mapping(item, "devices[]") for item in _list(data, "devices")]
    if not devices:
        raise _Malformed("devices is empty")
    # an agent may own several devices: prefer the one on the session's DN
    device = next((d for d in devices if dn and _str(d, "phoneNumber") == dn), devices[0])
    user_state = _optional_mapping(device, "userState")
    return GwsDeviceUpdate(
        t, _str(device, "phoneNumber") or dn, _str(user_state, "state"), _str(user_state, "workMode")
    )


def _parse_rest_record(raw: Mapping[str, Any], t: float, dn: str) -> GwsCallsSnapshot:
    if raw.get("rest") != "calls":
        raise _Malformed(f"unknown rest record {raw.get('rest')!r}")
    body = _mapping(raw, "body")
    record_dn = _str(raw, "dn") or dn
    if "data" in body:  # v3: {"status": {"code": 0}, "data": {"calls": [...]}}
        status = _optional_mapping(body, "status").get("code", 0)
        calls_raw = _list(_mapping(body, "data"), "calls")
        v3 = True
    else:  # v2: {"statusCode": 0, "calls": [...]}
        status = body.get("statusCode", 0)
        calls_raw = _list(body, "calls")
        v3 = False
    if status != 0:
        raise _Malformed(f"rest calls status {status!r}")
    calls = tuple(_parse_call(_as_mapping(item, "calls[]"), v3=v3) for item in calls_raw)
    return GwsCallsSnapshot(t, record_dn, calls)


# --------------------------------------------------------------------------- the call resource


def _parse_call(call: Mapping[str, Any], *, v3: bool) -> GwsCall:
    call_id = _str(call, "id")
    state = _str(call, "state")
    if not call_id:
        raise _Malformed("call without id")
    if not state:
        raise _Malformed("call without state")
    capabilities = tuple(_str_item(item, "capabilities[]") for item in _list(call, "capabilities"))
    if v3:
        capabilities = tuple(v3_capability_to_v2(name) for name in capabilities)
    return GwsCall(
        id=call_id,
        state=state,
        call_uuid=_str(call, "callUuid"),
        conn_id=_str(call, "connId"),
        previous_conn_id=_str(call, "previousConnId"),
        parent_conn_id=_str(call, "parentConnId"),
        call_type=_str(call, "callType"),
        capabilities=capabilities,
        participants=_participants(call),
        ani=_str(call, "ani"),
        dnis=_str(call, "dnis"),
        user_data=_user_data(call.get("userData")),
        duration=_duration(call.get("duration")),
    )


def _participants(call: Mapping[str, Any]) -> tuple[str, ...]:
    """v2 old: ``["5000"]`` (+ participantsInfo); v2 8.5.2: ``[{phoneNumber, digits, ...}]``;
    v3: ``[{number, role}]``. Phone numbers only."""
    numbers: list[str] = []
    for item in _list(call, "participants"):
        if isinstance(item, str):
            number = item
        else:
            party = _as_mapping(item, "participants[]")
            keys = ("phoneNumber", "number", "digits", "formattedPhoneNumber")
            number = next((n for n in (_str(party, k) for k in keys) if n), "")
        if number:  # a party GWS knows no number for says nothing about the call
            numbers.append(number)
    return tuple(numbers)


def _user_data(value: object) -> dict[str, object]:
    """v2 sends a flat object (nested objects allowed); v3 a KV list ``[{key, type, value}]``."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        pairs = (_as_mapping(item, "userData[]") for item in value)
        return {_str(pair, "key"): pair.get("value") for pair in pairs}
    raise _Malformed(f"userData: unexpected {type(value).__name__}")


def _duration(value: object) -> int:
    """GWS sends the duration as a string of seconds ("30"); v3 as a number."""
    if value is None or value == "":
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    raise _Malformed(f"duration: not a number of seconds: {value!r:.40}")


# --------------------------------------------------------------------------- typed access


def _str(m: Mapping[str, Any], key: str) -> str:
    """Optional string field: absent/null -> ""; numbers (some DNs arrive as JSON numbers) -> str."""
    value = m.get(key)
    if value is None:
        return ""
    return _str_item(value, key)


def _str_item(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Malformed(f"{what}: expected a string, got {type(value).__name__}")


def _mapping(m: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    if key not in m:
        raise _Malformed(f"missing {key}")
    return _as_mapping(m[key], key)


def _optional_mapping(m: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _as_mapping(m[key], key) if m.get(key) is not None else {}


def _as_mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Malformed(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _list(m: Mapping[str, Any], key: str) -> list[Any]:
    value = m.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"{key}: expected a list, got {type(value).__name__}")
    return value


def _excerpt(raw: object) -> str:
    try:
        text = json.dumps(raw, default=repr, ensure_ascii=False)
    except (TypeError, ValueError):  # non-string keys, circular structures
        text = repr(raw)
    return text[:_EXCERPT_CHARS]
