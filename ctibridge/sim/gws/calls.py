"""The simulated GWS call resource and the v2 messages real GWS 8.5 publishes about it.

Shapes follow the recorded GWS 8.5.202.96 traffic (tests/recordings/gws-wwe-8.5): participants as
objects, ``duration`` as a string, ``uri``/``path``/``deviceUri`` links, ``extensions`` and
``metrics.eventProcessing`` at the data level. Capabilities per state: recorded (Ringing,
Established) or documented (Dialing, Held, consult calls, Released = ``[]``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

_USER_DATA_OPS = ["UpdateUserData", "DeleteUserData", "DeleteUserDataPair", "AttachUserData"]

CAPABILITIES: dict[str, list[str]] = {
    "Ringing": ["Answer", *_USER_DATA_OPS, "ClearCall"],
    "Dialing": [
        "SendDtmf",
        "DeleteUserData",
        "AttachUserData",
        "DeleteUserDataPair",
        "Hangup",
        "UpdateUserData",
    ],
    "Established": [
        "UpdateUserData",
        "DeleteUserData",
        "DeleteUserDataPair",
        "InitiateConference",
        "AttachUserData",
        "Hangup",
        "SingleStepConference",
        "SingleStepTransfer",
        "SendDtmf",
        "ClearCall",
        "Hold",
        "InitiateTransfer",
    ],
    "Held": [
        "SingleStepTransfer",
        "InitiateConference",
        "Retrieve",
        "SingleStepConference",
        "InitiateTransfer",
        "DeleteUserData",
        "AttachUserData",
        "DeleteUserDataPair",
        "Hangup",
        "UpdateUserData",
    ],
    "Released": [],
}
# while a consultation is open, both legs can complete it or swap between the two
CONSULT_EXTRA = ["SwapCalls", "CompleteTransfer", "CompleteConference", "Reconnect"]


def new_call_uuid() -> str:
    """32 characters from the T-Server CallUUID alphabet (digits and capitals)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
    return "".join(secrets.choice(alphabet) for _ in range(32))


def new_conn_id() -> str:
    return secrets.token_hex(8)


@dataclass
class SimCall:
    dn: str
    call_uuid: str
    state: str
    call_type: str
    participants: list[str]
    dnis: str = ""
    ani: str = ""
    user_data: dict[str, Any] = field(default_factory=dict)
    conn_id: str = field(default_factory=new_conn_id)
    consult_peer: str = ""  # the other leg of an open consultation (either direction)
    consult_kind: str = ""  # "transfer" | "conference", set on the consult leg
    started: float = field(default_factory=time.monotonic)

    @property
    def id(self) -> str:
        # GWS 8.5: call.id == callUuid (recorded and documented); a consult call is a new T-Server call
        return self.call_uuid

    @property
    def duration(self) -> int:
        return int(time.monotonic() - self.started)

    @property
    def capabilities(self) -> list[str]:
        base = CAPABILITIES.get(self.state, [])
        if self.consult_peer and self.state in ("Dialing", "Established", "Held"):
            return base + [c for c in CONSULT_EXTRA if c not in base]
        return list(base)


def call_resource(call: SimCall, base_url: str, device_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "id": call.id,
        "state": call.state,
        "callUuid": call.call_uuid,
        "connId": call.conn_id,
        "deviceUri": f"{base_url}/api/v2/devices/{device_id}",
        "participants": [
            {"e164Number": "", "formattedPhoneNumber": n, "phoneNumber": n, "digits": n}
            for n in call.participants
        ],
        "dnis": call.dnis,
        "callType": call.call_type,
        "capabilities": call.capabilities,
        "userData": dict(call.user_data),
        "duration": str(call.duration),  # a string in GWS 8.5 (recorded)
        "mute": "Off",
        "supervisorListeningIn": False,
        "monitoredUserMuted": False,
        "monitoring": False,
        "uri": f"{base_url}/api/v2/me/calls/{call.id}",
        "path": f"/calls/{call.id}",
    }
    if call.ani and call.call_type != "Internal":  # absent on the recorded internal call
        resource["ani"] = call.ani
    if call.state == "Established":
        resource["case"] = []
    return resource


def _metrics() -> dict[str, Any]:
    return {
        "eventProcessing": {
            "nodeProcessingTimeNanos": 250_000,
            "serverGenerationTimestamp": int(time.time() * 1000),
            "serverProcessingTimeTotalMs": 2,
        }
    }


def call_message(call: SimCall, notification: str, base_url: str, device_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "notificationType": notification,
        "call": call_resource(call, base_url, device_id),
        "phoneNumber": call.dn,
    }
    if notification == "StatusChange":
        data["extensions"] = {"BusinessCall": 1} | ({"WrapUpTime": 20} if call.state == "Established" else {})
    data["messageType"] = "CallStateChangeMessage"
    data["metrics"] = _metrics()
    return data


def device_resource(device_id: str, dn: str, agent_state: str, base_url: str) -> dict[str, Any]:
    display = {"Ready": "Ready", "NotReady": "Not Ready"}.get(agent_state, agent_state)
    return {
        "id": device_id,
        "deviceState": "Active",
        "userState": {"id": secrets.token_hex(16).upper(), "displayName": display, "state": agent_state},
        "phoneNumber": dn,
        "description": "",
        "e164Number": "",
        "telephonyNetwork": "Private",
        "doNotDisturb": "Off",
        "voiceEnvironmentUri": f"{base_url}/api/v2/voice-environments/sim",
        "capabilities": ["DoNotDisturbOn", "ForwardCallsOn"],
        "channels": ["voice"],
        "dynamicPhoneNumber": "",
    }


def device_message(device: dict[str, Any]) -> dict[str, Any]:
    return {"devices": [device], "messageType": "DeviceStateChangeMessage", "metrics": _metrics()}
