"""The widget protocol (``docs/widget-protocol.md``) as pydantic v2 models: the one schema of /ws.

Client messages are parsed with ``parse_client_message`` (a ``TypeAdapter`` over the discriminated
union ``ClientMessage``); anything wrong raises ``ProtocolError`` carrying the ``error`` message to
send back, never a crash. Server messages are built with the ``*Message`` models; deltas are not
re-validated on the hot path (``Delta.encode`` serialises them once), but ``CallView`` is the
contract the correlator's ``Call.view()`` is tested against, so it forbids unknown fields.

``ctibridge schema`` prints the JSON Schema of every message; ``docs/widget-protocol.schema.json``
is that output (a test keeps it up to date).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

CallState = Literal["ringing", "dialing", "established", "held", "transferring", "released"]
SyncStatus = Literal["ok", "pending", "diverged"]
ActionName = Literal["answer", "hangup", "hold", "retrieve", "blind_transfer", "consult_transfer",
                     "complete_transfer", "cancel_transfer", "dtmf"]
Outcome = Literal["confirmed", "rejected", "failed", "timeout"]

# params each action needs (the rest take none)
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "blind_transfer": ("destination",),
    "consult_transfer": ("destination",),
    "dtmf": ("digits",),
}


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Remote(_View):
    number: str | None = None
    name: str | None = None


class GenesysView(_View):
    call_id: str
    conn_id: str | None = None
    previous_conn_ids: list[str] = []
    state: str  # the GWS state name as Genesys reported it (Ringing, Established, ...)
    call_type: str | None = None
    capabilities: list[str] = []
    participants: list[str] = []


class ChannelView(_View):
    uniqueid: str
    name: str
    role: str  # agent | trunk | local
    state: str  # Asterisk channel state name (Up, Ringing, ...)


class AsteriskView(_View):
    state: str
    linkedid: str
    bridge_id: str | None = None
    held: bool = False
    channels: list[ChannelView] = []
    hangup_cause: int | None = None
    hangup_text: str | None = None


class SyncView(_View):
    status: SyncStatus
    rule: str | None = None
    detail: str | None = None
    since: float


class CallView(_View):
    """One call of a DN as the widget sees it; ``genesys``/``asterisk`` are null until that side
    has reported the call."""

    id: str
    dn: str
    direction: str  # inbound | outbound | internal | consult | unknown
    state: CallState
    state_since: float
    created_at: float
    remote: Remote
    ani: str | None = None
    dnis: str | None = None
    call_uuid: str | None = None
    sip_call_id: str | None = None
    user_data: dict[str, Any] = {}
    parent_id: str | None = None
    genesys: GenesysView | None = None
    asterisk: AsteriskView | None = None
    actions: list[ActionName] = []
    sync: SyncView


# --------------------------------------------------------------------------- client -> server


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Since(_Message):
    epoch: str
    seq: int = Field(ge=0)


class TokenCredential(_Message):
    """A token the widget got from WWE (``jwt``: ``auth.getJwtToken``) or from the bridge (``hmac``:
    ``ctibridge token``, for the lab, scripts and the operator page)."""

    kind: Literal["jwt", "hmac"]
    token: str = Field(min_length=1, max_length=16 * 1024)


class SessionCredential(_Message):
    """No token in the message: the agent's GWS session cookie, sent by the browser on the
    ``/ws`` upgrade (the widget is served under the GWS origin), is the credential."""

    kind: Literal["session"] = "session"


Credential = Annotated[TokenCredential | SessionCredential, Field(discriminator="kind")]


class HelloMessage(_Message):
    type: Literal["hello"] = "hello"
    dn: str = Field(min_length=1, max_length=64)
    credential: Credential
    since: Since | None = None

    @property
    def token(self) -> str:
        return self.credential.token if isinstance(self.credential, TokenCredential) else ""


class ClientPingMessage(_Message):
    type: Literal["ping"] = "ping"
    t: float | None = None


class ActionParams(_Message):
    destination: str | None = Field(default=None, min_length=1, max_length=64)
    digits: str | None = Field(default=None, pattern=r"^[0-9*#A-Da-d]{1,32}$")


class ActionMessage(_Message):
    type: Literal["action"] = "action"
    id: str = Field(min_length=1, max_length=64)
    call_id: str = Field(min_length=1, max_length=128)
    action: ActionName
    params: ActionParams = ActionParams()

    @model_validator(mode="after")
    def _required_params(self) -> ActionMessage:
        missing = [p for p in REQUIRED_PARAMS.get(self.action, ()) if getattr(self.params, p) is None]
        if missing:
            raise ValueError(f"{self.action} needs params.{', params.'.join(missing)}")
        return self


ClientMessage = Annotated[HelloMessage | ClientPingMessage | ActionMessage, Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[HelloMessage | ClientPingMessage | ActionMessage] = TypeAdapter(ClientMessage)


# --------------------------------------------------------------------------- server -> client


class SnapshotMessage(_Message):
    type: Literal["snapshot"] = "snapshot"
    dn: str
    epoch: str
    seq: int
    calls: list[CallView]


class SipCredentialsMessage(_Message):
    """Sent after a verified hello, before the snapshot: what the browser phone registers with.
    ``ws_servers`` null: the widget's configured default; ``realm`` null: any."""

    type: Literal["sip_credentials"] = "sip_credentials"
    dn: str
    username: str
    password: str
    ws_servers: list[str] | None = None
    realm: str | None = None


class ResumeMessage(_Message):
    type: Literal["resume"] = "resume"
    dn: str
    epoch: str
    from_seq: int


class DeltaMessage(_Message):
    type: Literal["delta"] = "delta"
    dn: str
    seq: int
    op: Literal["created", "updated", "removed"]
    call: CallView
    t: float


class ServerPingMessage(_Message):
    type: Literal["ping"] = "ping"
    t: float


class PongMessage(_Message):
    type: Literal["pong"] = "pong"


class ActionResult(_Message):
    """The answer to one ``action``; the hub sets ``id`` (correlation) and ``latency_ms``."""

    type: Literal["action_result"] = "action_result"
    id: str = ""
    ok: bool
    outcome: Outcome
    detail: str = ""
    latency_ms: float = 0.0


class ErrorMessage(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str


ServerMessage = Annotated[
    SnapshotMessage | SipCredentialsMessage | ResumeMessage | DeltaMessage | ServerPingMessage
    | PongMessage | ActionResult | ErrorMessage,
    Field(discriminator="type"),
]
SERVER_MESSAGE: TypeAdapter[Any] = TypeAdapter(ServerMessage)


# --------------------------------------------------------------------------- parsing


class ProtocolError(Exception):
    """A client frame that is not a valid message; ``reply`` is the ``error`` to send back."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.reply = ErrorMessage(code=code, message=message)


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False)[:3]:
        where = ".".join(str(p) for p in e["loc"]) or "message"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def parse_client_message(frame: str | bytes) -> HelloMessage | ClientPingMessage | ActionMessage:
    """One text frame -> a client message, or ``ProtocolError`` saying what was wrong."""
    try:
        return CLIENT_MESSAGE.validate_json(frame)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        code = "bad_json" if first["type"] == "json_invalid" else "bad_message"
        raise ProtocolError(code, _describe(err)) from None


# --------------------------------------------------------------------------- schema


def protocol_schema() -> dict[str, Any]:
    """One JSON Schema document: ``$defs.ClientMessage`` and ``$defs.ServerMessage`` (and CallView)."""
    client = CLIENT_MESSAGE.json_schema(ref_template="#/$defs/{model}")
    server = SERVER_MESSAGE.json_schema(ref_template="#/$defs/{model}")
    defs = {**client.pop("$defs"), **server.pop("$defs")}
    defs["ClientMessage"] = client
    defs["ServerMessage"] = server
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ctibridge widget protocol (WebSocket /ws)",
        "description": "Generated from ctibridge/hub/protocol.py by `ctibridge schema`; see "
                       "docs/widget-protocol.md.",
        "anyOf": [{"$ref": "#/$defs/ClientMessage"}, {"$ref": "#/$defs/ServerMessage"}],
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    return json.dumps(protocol_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """``ctibridge schema``: print the JSON Schema of the widget protocol."""
    usage = "usage: ctibridge schema  (prints the JSON Schema of every /ws message)"
    if argv in (["-h"], ["--help"]):
        print(usage)
        return 0
    if argv:
        print(usage, file=sys.stderr)
        return 2
    sys.stdout.write(schema_text())
    return 0
