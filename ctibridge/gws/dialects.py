"""The two GWS APIs behind one interface: where to log in, listen, re-read, and how to ask for an
operation. Operation names are always the v2 ones (``Hold``, ``SingleStepTransfer``, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# v2 operation name -> v3 path segment (POST /workspace/v3/voice/calls/{id}/{segment})
V3_OPERATION_PATHS = {
    "Answer": "answer",
    "Hangup": "release",
    "Hold": "hold",
    "Retrieve": "retrieve",
    "SingleStepTransfer": "single-step-transfer",
    "InitiateTransfer": "initiate-transfer",
    "CompleteTransfer": "complete-transfer",
    "InitiateConference": "initiate-conference",
    "CompleteConference": "complete-conference",
    "Reconnect": "reconnect",  # cancel a consultation: back to the held original
    "SendDtmf": "send-dtmf",
}


@dataclass(frozen=True)
class OperationParams:
    destination: str = ""  # transfers and conferences
    digits: str = ""  # SendDtmf
    consult_call_id: str = ""  # CompleteTransfer/CompleteConference: the other leg, when known


@dataclass(frozen=True)
class Dialect:
    name: str
    login_path: str  # GET with Basic auth: session cookie, CSRF headers, the agent's DN
    notifications_path: str
    channels: tuple[str, ...]
    calls_path: str  # GET: the agent's calls (the REST re-read)
    start_path: str  # POST after the first CometD connect

    def operation(self, name: str, call_id: str, params: OperationParams) -> tuple[str, dict[str, Any]]:
        """(path, JSON body) of one call operation."""
        if name not in V3_OPERATION_PATHS:
            raise ValueError(f"unknown GWS operation {name!r}")
        if self.name == "v3":
            data: dict[str, Any] = {}
            if params.destination:
                data["destination"] = params.destination
            if params.digits:
                data["dtmfDigits"] = params.digits
            if params.consult_call_id:
                data["parentConnId"] = params.consult_call_id
            return f"/workspace/v3/voice/calls/{call_id}/{V3_OPERATION_PATHS[name]}", {"data": data}
        body: dict[str, Any] = {"operationName": name}
        if params.destination:
            body["destination"] = {"phoneNumber": params.destination}
        if params.digits:
            body["dtmfDigits"] = params.digits
        if params.consult_call_id:
            body["consultCallUri"] = f"{self.calls_path}/{params.consult_call_id}"
        return f"{self.calls_path}/{call_id}", body

    def start_body(self, dn: str) -> dict[str, Any]:
        if self.name == "v3":
            return {"data": {"dn": dn}}
        return {"operationName": "StartContactCenterSession", "channels": ["voice"]}

    def dial(self, device_id: str, destination: str) -> tuple[str, dict[str, Any]]:
        if self.name == "v3":
            return "/workspace/v3/voice/make-call", {"data": {"destination": destination}}
        return f"/api/v2/me/devices/{device_id}/calls", {
            "operationName": "Dial",
            "destination": {"phoneNumber": destination},
        }


V2 = Dialect(
    name="v2",
    login_path="/api/v2/me",
    notifications_path="/api/v2/notifications",
    channels=("/v2/me/calls", "/v2/me/devices"),
    calls_path="/api/v2/me/calls",
    start_path="/api/v2/me",
)
V3 = Dialect(
    name="v3",
    login_path="/workspace/v3/current-session",
    notifications_path="/workspace/v3/notifications",
    channels=("/workspace/v3/voice",),
    calls_path="/workspace/v3/voice/calls",
    start_path="/workspace/v3/activate-channels",
)
DIALECTS = {"v2": V2, "v3": V3}
