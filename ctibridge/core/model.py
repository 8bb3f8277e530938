"""The unified call: one customer interaction on one agent DN, with both halves of the truth.

``Call`` holds the Genesys side (the GWS call resource) and the Asterisk side (the channels of
that DN's interaction) as they were last reported, and derives from them the unified ``state``,
the ``actions`` the agent may take and the ``sync`` verdict. ``Call.view()`` is the JSON shape of
the widget protocol (``docs/widget-protocol.md``; schema: ``ctibridge.hub.protocol.CallView``).

State tables (``GENESYS_STATES``, ``asterisk_state``) live here; the rules for when the two sides
disagree live in ``divergence``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ctibridge.core.events import Channel, GwsCall


class State(StrEnum):
    RINGING = "ringing"
    DIALING = "dialing"
    ESTABLISHED = "established"
    HELD = "held"
    TRANSFERRING = "transferring"
    RELEASED = "released"


LIVE_STATES = frozenset(State) - {State.RELEASED}

# Genesys call.state -> unified state (v2 and v3 names).
GENESYS_STATES: dict[str, State] = {
    "Ringing": State.RINGING,
    "Dialing": State.DIALING,
    "Established": State.ESTABLISHED,
    "Held": State.HELD,
    "Released": State.RELEASED,
    "Completed": State.RELEASED,
    "Abandoned": State.RELEASED,
}

# Genesys capability (v2 operation name) -> widget action.
CAPABILITY_ACTIONS: dict[str, str] = {
    "Answer": "answer",
    "Hangup": "hangup",
    "ReleaseCall": "hangup",
    "Hold": "hold",
    "Retrieve": "retrieve",
    "SingleStepTransfer": "blind_transfer",
    "InitiateTransfer": "consult_transfer",
    "CompleteTransfer": "complete_transfer",
    "Reconnect": "cancel_transfer",
    "ReconnectCall": "cancel_transfer",
    "SendDtmf": "dtmf",
}
ACTION_ORDER = ("answer", "hangup", "hold", "retrieve", "blind_transfer", "consult_transfer",
                "complete_transfer", "cancel_transfer", "dtmf")

# Asterisk-side state -> actions the bridge can carry out with AMI alone.
ASTERISK_ACTIONS: dict[State, tuple[str, ...]] = {
    State.RINGING: ("answer", "hangup"),
    State.DIALING: ("hangup",),
    State.ESTABLISHED: ("hangup", "hold", "blind_transfer", "consult_transfer", "dtmf"),
    State.HELD: ("hangup", "retrieve"),
    State.TRANSFERRING: ("hangup", "complete_transfer", "cancel_transfer"),
    State.RELEASED: (),
}

UP = 6
CHANNEL_STATE_NAMES = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing",
                       6: "Up", 7: "Busy"}


class Role(StrEnum):
    AGENT = "agent"  # the DN's own PJSIP endpoint (the browser)
    TRUNK = "trunk"  # the Genesys SIP Server trunk


@dataclass(slots=True)
class Leg:
    """One Asterisk channel as this call sees it."""

    uniqueid: str
    name: str
    role: Role
    linkedid: str
    state: int = 0
    context: str = ""
    exten: str = ""
    caller_num: str = ""
    caller_name: str = ""
    bridge_id: str = ""
    held: bool = False  # Hold event (SIP re-INVITE sendonly from that party)
    sent_to_hold: bool = False  # ran the dialplan in HOLD_CONTEXT since it last entered a bridge
    moh: bool = False  # MusicOnHoldStart on that channel
    alive: bool = True
    hangup_cause: int | None = None
    hangup_text: str = ""

    def update(self, ch: Channel) -> bool:
        """Take the channel's latest fields; True when something changed. (Most AMI events repeat
        the channel block unchanged: those must not cost a refresh.)"""
        before = (self.name, self.state, self.context, self.exten, self.caller_num, self.caller_name)
        self.name = ch.name or self.name
        if self.state != UP:  # a channel never leaves Up; an older event arriving late must not undo it
            self.state = ch.state
        self.context = ch.context or self.context
        self.exten = ch.exten or self.exten
        if ch.caller_num:
            self.caller_num = ch.caller_num
        if ch.caller_name:
            self.caller_name = ch.caller_name
        return before != (self.name, self.state, self.context, self.exten, self.caller_num, self.caller_name)

    def channel(self) -> Channel:
        """The channel as last reported (for a restored correlator)."""
        return Channel(self.uniqueid, self.linkedid, self.name, self.state, self.context, self.exten,
                       self.caller_num, self.caller_name)

    def parked(self) -> bool:
        """Sent to the bridge's hold context and not bridged: put there by an AMI hold. (After the
        ``Bridge`` that retrieves it Asterisk still reports that context, also as the channel
        leaves that bridge to hang up: that is no hold.)"""
        return self.sent_to_hold and not self.bridge_id

    def view(self) -> dict[str, Any]:
        return {"uniqueid": self.uniqueid, "name": self.name, "role": self.role.value,
                "state": CHANNEL_STATE_NAMES.get(self.state, str(self.state)) if self.alive else "Gone"}



@dataclass(slots=True)
class AsteriskSide:
    legs: dict[str, Leg] = field(default_factory=dict)
    linkedid: str = ""
    outbound: bool = False
    transfer: str = ""  # "blind" / "attended" once Asterisk reported one for the agent leg
    consulting: bool = False  # the agent is in an Asterisk consult (Atxfer) bridge
    first_seen: float = 0.0
    gone_at: float | None = None

    def agent_legs(self) -> list[Leg]:
        return [leg for leg in self.legs.values() if leg.role is Role.AGENT]

    def alive(self, role: Role) -> Leg | None:
        for leg in self.legs.values():
            if leg.role is role and leg.alive:
                return leg
        return None

    def state(self) -> State:
        agents = self.agent_legs()
        agent = next((leg for leg in agents if leg.alive), None)
        if agent is None:
            if agents:  # the DN's leg existed and is gone: this DN is out of the call
                return State.RELEASED
            trunk = self.alive(Role.TRUNK)
            return State.RINGING if trunk is not None and not self.outbound else State.RELEASED
        if self.transfer or self.consulting:
            return State.TRANSFERRING
        if agent.state != UP:
            return State.DIALING if self.outbound else State.RINGING
        if self.held():
            return State.HELD
        return State.ESTABLISHED

    def held(self) -> bool:
        for leg in self.legs.values():
            if leg.alive and (leg.held or leg.parked() or (leg.role is Role.TRUNK and leg.moh)):
                return True
        return False

    def held_by_bridge(self) -> bool:
        return any(leg.alive and leg.parked() for leg in self.legs.values())

    def remote(self) -> tuple[str, str]:
        """(number, name) of the far party as Asterisk saw it."""
        trunk = next((leg for leg in self.legs.values() if leg.role is Role.TRUNK), None)
        if self.outbound:
            agent = next(iter(self.agent_legs()), None)
            return (agent.exten if agent else "", "")
        if trunk is not None:
            return trunk.caller_num, trunk.caller_name
        return "", ""

    def view(self) -> dict[str, Any]:
        agent = next((leg for leg in self.agent_legs() if leg.alive), None) or next(
            iter(self.agent_legs()), None)
        ended = [leg for leg in self.agent_legs() if not leg.alive] or [
            leg for leg in self.legs.values() if not leg.alive]
        last = ended[-1] if ended and self.state() is State.RELEASED else None
        return {
            "state": _asterisk_state_name(self),
            "linkedid": self.linkedid,
            "bridge_id": (agent.bridge_id or None) if agent else None,
            "held": self.held(),
            "channels": [leg.view() for leg in self.legs.values()],
            "hangup_cause": last.hangup_cause if last else None,
            "hangup_text": (last.hangup_text or None) if last else None,
        }


def _asterisk_state_name(side: AsteriskSide) -> str:
    return {State.ESTABLISHED: "up", State.RELEASED: "gone"}.get(side.state(), side.state().value)


@dataclass(slots=True)
class GenesysSide:
    call: GwsCall
    previous_conn_ids: list[str] = field(default_factory=list)
    released_at: float | None = None

    @property
    def state(self) -> State:
        return GENESYS_STATES.get(self.call.state, State.ESTABLISHED)

    def view(self) -> dict[str, Any]:
        c = self.call
        return {"call_id": c.id, "conn_id": c.conn_id or None,
                "previous_conn_ids": list(self.previous_conn_ids), "state": c.state,
                "call_type": c.call_type or None, "capabilities": list(c.capabilities),
                "participants": list(c.participants)}


@dataclass(slots=True)
class Sync:
    status: str = "ok"  # ok | pending | diverged
    rule: str | None = None
    detail: str | None = None
    since: float = 0.0
    disagree_since: float | None = None

    def view(self) -> dict[str, Any]:
        return {"status": self.status, "rule": self.rule, "detail": self.detail, "since": self.since}


@dataclass(slots=True)
class Call:
    id: str
    dn: str
    created_at: float
    genesys: GenesysSide | None = None
    asterisk: AsteriskSide | None = None
    call_uuid: str = ""
    sip_call_id: str = ""
    parent_id: str | None = None
    state: State = State.RINGING
    state_since: float = 0.0
    sync: Sync = field(default_factory=Sync)
    pending_ops: dict[str, float] = field(default_factory=dict)  # bridge-caused op -> deadline
    agent_hold: bool = False  # the agent asked the bridge for an Asterisk hold (not a repair)
    transferred_user_data: dict[str, Any] = field(default_factory=dict)  # the transferer's, see view()
    emitted: dict[str, Any] | None = None  # the last view sent out

    # ---------------------------------------------------------------- derived

    def genesys_state(self) -> State | None:
        return self.genesys.state if self.genesys is not None else None

    def asterisk_state(self) -> State | None:
        return self.asterisk.state() if self.asterisk is not None else None

    def finished(self) -> bool:
        g, a = self.genesys_state(), self.asterisk_state()
        return (g in (None, State.RELEASED)) and (a in (None, State.RELEASED)) and (g or a) is not None

    def unified_state(self) -> State:
        # Genesys owns call control, Asterisk owns the media: a leg that is gone, being transferred
        # by Asterisk, or still up after Genesys released it, is what the agent actually has.
        g, a = self.genesys_state(), self.asterisk_state()
        if a is None:
            return g if g is not None else State.RELEASED
        if g is None or g is State.RELEASED or a in (State.RELEASED, State.TRANSFERRING):
            return a
        return g

    def direction(self) -> str:
        if self.genesys is not None:
            call_type = self.genesys.call.call_type
            if call_type:
                return call_type.lower()
        if self.asterisk is not None:
            return "outbound" if self.asterisk.outbound else "inbound"
        return "unknown"

    def actions(self) -> list[str]:
        state = self.unified_state()
        if state is State.RELEASED:
            return []
        if self.genesys is not None and self.genesys.state is not State.RELEASED:
            caps = self.genesys.call.capabilities
            allowed = {CAPABILITY_ACTIONS[c] for c in caps if c in CAPABILITY_ACTIONS}
        else:
            allowed = set(ASTERISK_ACTIONS.get(state, ()))
        return [a for a in ACTION_ORDER if a in allowed]

    def view(self) -> dict[str, Any]:
        g = self.genesys.call if self.genesys is not None else None
        a_num, a_name = self.asterisk.remote() if self.asterisk is not None else ("", "")
        g_num = ""
        if g is not None:
            g_num = g.ani or next(iter(g.participants), "")
        return {
            "id": self.id,
            "dn": self.dn,
            "direction": self.direction(),
            "state": self.state.value,
            "state_since": self.state_since,
            "created_at": self.created_at,
            "remote": {"number": g_num or a_num or None, "name": a_name or None},
            "ani": (g.ani if g is not None and g.ani else (a_num if not self.outbound() else "")) or None,
            "dnis": (g.dnis if g is not None and g.dnis else None),
            "call_uuid": self.call_uuid or None,
            "sip_call_id": self.sip_call_id or None,
            # A customer transferred to this DN brings the user data Genesys gave the transferer.
            "user_data": dict(g.user_data) if g is not None else dict(self.transferred_user_data),
            "parent_id": self.parent_id,
            "genesys": self.genesys.view() if self.genesys is not None else None,
            "asterisk": self.asterisk.view() if self.asterisk is not None else None,
            "actions": self.actions(),
            "sync": self.sync.view(),
        }

    def outbound(self) -> bool:
        return self.asterisk is not None and self.asterisk.outbound
