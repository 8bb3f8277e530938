"""Action planning: what to ask of Genesys and of Asterisk so that an agent's action happens.

``plan(view, action, params, control)`` looks only at the call view (the same dict the widget gets),
so the service, the tests and replay plan identically. Genesys owns call control when it knows the
call and offers the capability: the request goes to GWS, and SIP Server's re-INVITE/BYE then changes
the Asterisk leg by itself. When Genesys does not know the call (or ``control="asterisk"``), the
bridge changes the Asterisk channels itself with AMI. ``Plan.confirmed`` says, from a later view of
the call (``None`` once the call is removed), whether the result is visible on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ctibridge.core.model import ACTION_ORDER

# widget action -> GWS v2 operation name
GWS_OPERATIONS: dict[str, str] = {
    "answer": "Answer",
    "hangup": "Hangup",
    "hold": "Hold",
    "retrieve": "Retrieve",
    "blind_transfer": "SingleStepTransfer",
    "consult_transfer": "InitiateTransfer",
    "complete_transfer": "CompleteTransfer",
    "cancel_transfer": "Reconnect",
    "dtmf": "SendDtmf",
}

# What the unified state must show once the action took effect (None = the call is gone).
CONFIRMING_STATES: dict[str, frozenset[str | None]] = {
    "answer": frozenset({"established"}),
    "hangup": frozenset({None, "released"}),
    "hold": frozenset({"held"}),
    "retrieve": frozenset({"established"}),
    "blind_transfer": frozenset({None, "released"}),
    "consult_transfer": frozenset({"held", "transferring"}),
    "complete_transfer": frozenset({None, "released"}),
    "cancel_transfer": frozenset({"established"}),
}

DIGITS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True, slots=True)
class AmiOp:
    """A channel operation on Asterisk (carried out by ``ctibridge.ami.operations``)."""

    kind: str  # hold, retrieve, blind_transfer, consult_transfer, complete_transfer, cancel_transfer,
    # hangup, dtmf
    agent_channel: str = ""
    trunk_channel: str = ""
    destination: str = ""
    digits: str = ""


@dataclass(frozen=True, slots=True)
class GwsOp:
    """A GWS REST call operation (carried out by ``ctibridge.gws.operations``)."""

    dn: str
    call_id: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)


Step = AmiOp | GwsOp


class OperationKind(StrEnum):
    """A bridge-caused operation as the correlator notes it and a divergence rule names its repair:
    ``ami_<action>`` for a channel operation, ``gws_<operation>`` (lower case) for a GWS request."""

    AMI_HOLD = "ami_hold"
    AMI_RETRIEVE = "ami_retrieve"
    AMI_BLIND_TRANSFER = "ami_blind_transfer"
    AMI_CONSULT_TRANSFER = "ami_consult_transfer"
    AMI_COMPLETE_TRANSFER = "ami_complete_transfer"
    AMI_CANCEL_TRANSFER = "ami_cancel_transfer"
    AMI_HANGUP = "ami_hangup"
    AMI_DTMF = "ami_dtmf"
    GWS_ANSWER = "gws_answer"
    GWS_HANGUP = "gws_hangup"
    GWS_HOLD = "gws_hold"
    GWS_RETRIEVE = "gws_retrieve"
    GWS_SINGLE_STEP_TRANSFER = "gws_singlesteptransfer"
    GWS_INITIATE_TRANSFER = "gws_initiatetransfer"
    GWS_COMPLETE_TRANSFER = "gws_completetransfer"
    GWS_RECONNECT = "gws_reconnect"
    GWS_SEND_DTMF = "gws_senddtmf"


def operation_kind(step: Step) -> OperationKind:
    """The kind of ``step``: ``ami_hold``, ``gws_hangup``, ..."""
    if isinstance(step, AmiOp):
        return OperationKind(f"ami_{step.kind}")
    return OperationKind(f"gws_{step.operation.lower()}")


@dataclass(frozen=True, slots=True)
class Plan:
    action: str
    call_id: str
    steps: tuple[Step, ...]
    local: bool = False  # the widget's own phone does it (answer on the browser leg)

    def confirmed(self, view: Mapping[str, Any] | None) -> bool:
        states = CONFIRMING_STATES.get(self.action)
        if states is None:  # dtmf: the operation's own success is the confirmation
            return True
        state = view.get("state") if view is not None else None
        return state in states

    @property
    def owner(self) -> str:
        return "genesys" if any(isinstance(s, GwsOp) for s in self.steps) else "asterisk"


@dataclass(frozen=True, slots=True)
class Rejection:
    action: str
    reason: str


def _channel(view: Mapping[str, Any], role: str) -> str:
    asterisk = view.get("asterisk") or {}
    for leg in asterisk.get("channels", ()):
        if leg.get("role") == role and leg.get("state") != "Gone":
            return str(leg.get("name", ""))
    return ""


def ami_step(view: Mapping[str, Any], kind: str, destination: str = "", digits: str = "") -> AmiOp | str:
    """The AMI operation for ``kind`` on this call, or the reason it cannot be done."""
    agent, trunk = _channel(view, "agent"), _channel(view, "trunk")
    if kind in ("hold", "retrieve") and not (agent and trunk):
        return "the call has no agent and trunk channel on the gateway"
    if not agent and kind != "dtmf":
        return "the call has no agent channel on the gateway"
    if kind == "dtmf" and not (trunk or agent):
        return "the call has no channel on the gateway"
    return AmiOp(kind, agent_channel=agent, trunk_channel=trunk, destination=destination, digits=digits)


def plan(view: Mapping[str, Any], action: str, params: Mapping[str, Any] | None = None,
         control: str = "auto") -> Plan | Rejection:
    """Plan ``action`` on the call ``view``. ``control``: auto | genesys | asterisk."""
    params = params or {}
    if action not in ACTION_ORDER:
        return Rejection(action, f"unknown action {action!r}")
    if action not in view.get("actions", ()):
        return Rejection(action, f"{action} is not allowed in state {view.get('state')}")
    destination = str(params.get("destination", "")).strip()
    digits = str(params.get("digits", "")).strip()
    if action in ("blind_transfer", "consult_transfer"):
        if not destination or not all(ch.isalnum() or ch in "+*#" for ch in destination):
            return Rejection(action, "params.destination must be a phone number or DN")
    if action == "dtmf" and (not digits or not set(digits) <= DIGITS):
        return Rejection(action, "params.digits must be DTMF digits (0-9, *, #, A-D)")

    genesys: Mapping[str, Any] = view.get("genesys") or {}
    genesys_live = bool(genesys) and genesys.get("state") != "Released"
    capability = GWS_OPERATIONS[action]
    use_genesys = control != "asterisk" and genesys_live and capability in genesys.get("capabilities", ())
    if control == "genesys" and not use_genesys:
        return Rejection(action, f"Genesys does not offer {capability} on this call")
    call_id = str(view["id"])
    if use_genesys:
        gws_params: dict[str, Any] = {}
        if destination:
            gws_params["destination"] = {"phoneNumber": destination}
        if digits:
            gws_params["dtmfDigits"] = digits
        step: Step = GwsOp(str(view["dn"]), str(genesys["call_id"]), capability, gws_params)
        return Plan(action, call_id, (step,), local=action == "answer")
    if action == "answer":
        # Asterisk cannot answer for the browser: the widget's phone accepts its own INVITE.
        return Plan(action, call_id, (), local=True)
    ami = ami_step(view, action, destination, digits)
    if isinstance(ami, str):
        return Rejection(action, ami)
    return Plan(action, call_id, (ami,))
