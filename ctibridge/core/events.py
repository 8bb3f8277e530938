"""Normalized inbound events: what the correlator understands, whatever the wire said.

Both parsers (``ami_parse`` and ``gws_parse``) turn raw messages into these small immutable
records; adapters and replay never hand raw dicts to the correlator. Every event carries ``t``,
the time it was read, in seconds, supplied by the caller (the core never reads a clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

EMPTY: Mapping[str, str] = MappingProxyType({})


def _empty() -> Mapping[str, str]:
    return EMPTY


# --------------------------------------------------------------------------- Asterisk side


@dataclass(frozen=True, slots=True)
class Channel:
    """The channel block Asterisk embeds in every channel event (with an optional prefix)."""

    uniqueid: str
    linkedid: str
    name: str  # e.g. "PJSIP/5001-00000001"
    state: int  # 0 Down, 4 Ring, 5 Ringing, 6 Up
    context: str = ""
    exten: str = ""
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    vars: Mapping[str, str] = field(default_factory=_empty)  # manager.conf channelvars: CALLUUID, SIPCALLID

    @property
    def endpoint(self) -> str:
        """PJSIP endpoint name: "PJSIP/5001-00000001" -> "5001"; Local channels -> ""."""
        if not self.name.startswith("PJSIP/"):
            return ""
        return self.name[6:].rsplit("-", 1)[0]


@dataclass(frozen=True, slots=True)
class ChannelUpdate:
    """Newchannel, Newstate, NewCallerid, NewConnectedLine, Newexten, VarSet of a tracked variable,
    and the channel lists of a resync (CoreShowChannel, Status)."""

    t: float
    event: str
    channel: Channel
    bridge_id: str = ""  # set by CoreShowChannel/Status during a resync
    application: str = ""


@dataclass(frozen=True, slots=True)
class DialUpdate:
    """DialBegin / DialState / DialEnd: ``caller`` dialled ``dest``."""

    t: float
    caller: Channel | None
    dest: Channel
    status: str  # "" for DialBegin, RINGING/PROCEEDING/PROGRESS, ANSWER/CANCEL/BUSY/NOANSWER/...


@dataclass(frozen=True, slots=True)
class BridgeUpdate:
    """BridgeEnter / BridgeLeave of one channel."""

    t: float
    bridge_id: str
    channel: Channel
    entered: bool


@dataclass(frozen=True, slots=True)
class HoldUpdate:
    """Hold/Unhold (SIP re-INVITE from a party) or MusicOnHoldStart/Stop on a channel."""

    t: float
    channel: Channel
    held: bool
    music: bool = False  # True for MusicOnHoldStart/Stop


@dataclass(frozen=True, slots=True)
class ChannelHangup:
    t: float
    channel: Channel
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class TransferUpdate:
    """BlindTransfer / AttendedTransfer results."""

    t: float
    kind: str  # "blind" | "attended"
    result: str  # Success, Fail, Invalid, Not Permitted
    transferer: Channel | None
    transferee: Channel | None
    target: Channel | None = None
    exten: str = ""


@dataclass(frozen=True, slots=True)
class AmiLink:
    """Life of the AMI session: ``connected`` (greeting/login), ``booted`` (FullyBooted, with the
    Asterisk uptime so a restart is visible), ``shutdown`` (Shutdown event), ``lost`` (EOF), and
    ``resync_begin``/``resync_end`` around a channel listing after a reconnect."""

    t: float
    status: str
    uptime: float | None = None


# --------------------------------------------------------------------------- Genesys side


@dataclass(frozen=True, slots=True)
class GwsCall:
    """The Genesys call resource, in the v2 shape (v3 is normalized into it)."""

    id: str
    state: str  # Ringing, Dialing, Established, Held, Released (v3 adds Completed)
    call_uuid: str = ""
    conn_id: str = ""
    previous_conn_id: str = ""  # v3 re-key
    parent_conn_id: str = ""  # v3 consult link
    call_type: str = ""  # Inbound, Outbound, Internal, Consult
    capabilities: tuple[str, ...] = ()  # normalized to v2 operation names
    participants: tuple[str, ...] = ()  # phone numbers
    ani: str = ""
    dnis: str = ""
    user_data: Mapping[str, object] = field(default_factory=dict)
    duration: int = 0


@dataclass(frozen=True, slots=True)
class GwsCallUpdate:
    t: float
    dn: str
    notification: str  # StatusChange, AttachedDataChanged, ParticipantsUpdated, ...
    call: GwsCall
    dialect: str = "v2"


@dataclass(frozen=True, slots=True)
class GwsCallsSnapshot:
    """The agent's calls re-read by REST after a (re)connect: calls missing from it have ended."""

    t: float
    dn: str
    calls: tuple[GwsCall, ...]


@dataclass(frozen=True, slots=True)
class GwsDeviceUpdate:
    t: float
    dn: str
    agent_state: str
    work_mode: str = ""


@dataclass(frozen=True, slots=True)
class GwsLink:
    """Life of one agent's GWS session: connected, lost, handshake, login_failed."""

    t: float
    dn: str
    status: str
    detail: str = ""


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class ParseError:
    """A message that could not be understood. Counted and logged; never raised into the core."""

    t: float
    source: str
    reason: str
    excerpt: str = ""


InboundEvent = (
    ChannelUpdate
    | DialUpdate
    | BridgeUpdate
    | HoldUpdate
    | ChannelHangup
    | TransferUpdate
    | AmiLink
    | GwsCallUpdate
    | GwsCallsSnapshot
    | GwsDeviceUpdate
    | GwsLink
    | ParseError
)
