"""The simulated Asterisk 22 gateway: channels, bridges, and the AMI events a real one emits.

No sockets here: every change goes out through ``emit`` (one AMI event dict, wire key order) and
delayed work through ``schedule`` (seconds, callback), both given by the server. Sequences follow
the recorded captures (tests/recordings/asterisk-22; orders in docs/scenarios.md) with fresh
Uniqueids, Linkedids and bridge ids. The dialplan is the generated gateway's
(``ctibridge.gateway``): ``__CALLUUID``/``__SIPCALLID`` are inherited, so agent legs carry them
too; hold parks the trunk in ``ctibridge-hold,moh`` (MusicOnHoldStart) and the agent in
``ctibridge-hold,park``; transfers run in ``ctibridge-xfer``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ctibridge.core.dialplan import (
    CALL_UUID_VAR,
    HOLD_CONTEXT,
    HOLD_MUSIC_EXTEN,
    SIP_CALL_ID_VAR,
    TRACKED_VARS,
    TRANSFER_CONTEXT,
    inherited,
)
from ctibridge.sim.ami import recorded as rec

AmiEvent = dict[str, str | list[str]]
Emit = Callable[[AmiEvent], None]
Schedule = Callable[[float, Callable[[], None]], None]

class PbxError(Exception):
    """An action Asterisk refuses; the message is Asterisk's own text."""


@dataclass
class SimChannel:
    name: str
    uniqueid: str
    linkedid: str
    state: int
    context: str
    exten: str
    caller_num: str = rec.UNKNOWN
    caller_name: str = rec.UNKNOWN
    connected_num: str = rec.UNKNOWN
    connected_name: str = rec.UNKNOWN
    priority: int = 1
    vars: dict[str, str] = field(default_factory=lambda: dict.fromkeys(TRACKED_VARS, ""))
    bridge: str = ""
    application: str = ""
    music: bool = False

    def block(self, prefix: str = "") -> AmiEvent:
        values = (
            self.name,
            str(self.state),
            rec.STATE_DESC.get(self.state, "Unknown"),
            self.caller_num,
            self.caller_name,
            self.connected_num,
            self.connected_name,
            "en",
            "",
            self.context,
            self.exten,
            str(self.priority),
            self.uniqueid,
            self.linkedid,
        )
        out: AmiEvent = {prefix + k: v for k, v in zip(rec.CHANNEL_KEYS, values, strict=True)}
        out[prefix + "ChanVariable"] = [f"{k}={self.vars.get(k, '')}" for k in TRACKED_VARS]
        return out


@dataclass
class SimBridge:
    id: str
    channels: list[str] = field(default_factory=list)  # channel names, in entry order

    def block(self) -> AmiEvent:
        return {
            "BridgeUniqueid": self.id,
            **rec.BRIDGE_DEFAULTS,
            "BridgeNumChannels": str(len(self.channels)),
            "BridgeVideoSourceMode": "none",
        }


@dataclass
class Consultation:
    """An Atxfer in progress: the agent talks to ``target`` through a Local pair."""

    agent: str
    original_bridge: str
    local1: str
    local2: str
    target: str = ""
    bridge: str = ""


class Pbx:
    def __init__(
        self,
        emit: Emit,
        schedule: Schedule,
        *,
        trunk: str = "genesys",
        agent_dns: frozenset[str] = frozenset(),
        epoch: int = 1795597842,
        atxfer_digit_timeout_s: float = 0.5,
        auto_answer_s: float | None = 0.8,
    ) -> None:
        self.emit, self.schedule = emit, schedule
        self.trunk, self.agent_dns = trunk, agent_dns
        self.atxfer_digit_timeout_s = atxfer_digit_timeout_s  # real Asterisk: ~3.2 s
        self.auto_answer_s = auto_answer_s  # transfer targets answer after this (None: never)
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.consultations: dict[str, Consultation] = {}  # agent channel -> consultation
        self.dials: dict[str, str] = {}  # dialled channel -> the channel dialling it (until answered)
        self.boot_epoch = epoch
        self._uid = itertools.count()
        self._chan = itertools.count()
        self._local = itertools.count()

    # ------------------------------------------------------------------ channels and events

    def _pjsip(self, endpoint: str) -> str:
        return f"PJSIP/{endpoint}-{next(self._chan):08x}"

    def _new_channel(self, name: str, state: int, context: str, exten: str, linkedid: str = "") -> SimChannel:
        uid = f"{self.boot_epoch}.{next(self._uid)}"
        ch = SimChannel(name, uid, linkedid or uid, state, context, exten)
        self.channels[ch.name] = ch
        self._event("Newchannel", ch)
        return ch

    def _event(self, name: str, ch: SimChannel | None = None, privilege: str = "call", **extra: str) -> None:
        msg: AmiEvent = {"Event": name, "Privilege": rec.PRIVILEGE[privilege]}
        if ch is not None:
            msg.update(ch.block())
        msg.update(extra)
        self.emit(msg)

    def _dial_event(self, name: str, caller: SimChannel, dest: SimChannel, **extra: str) -> None:
        self.emit(
            {
                "Event": name,
                "Privilege": rec.PRIVILEGE["call"],
                **caller.block(),
                **dest.block("Dest"),
                **extra,
            }
        )

    def _set_var(self, ch: SimChannel, name: str, value: str) -> None:
        ch.vars[name] = value
        self._event("VarSet", ch, privilege="dialplan", Variable=name, Value=value)

    def _newexten(self, ch: SimChannel, context: str, exten: str, priority: int, app: str, data: str) -> None:
        ch.context, ch.exten, ch.priority, ch.application = context, exten, priority, app
        self._event("Newexten", ch, privilege="dialplan", Extension=exten, Application=app, AppData=data)

    def _set_state(self, ch: SimChannel, state: int) -> None:
        ch.state = state
        self._event("Newstate", ch)

    def _bridge(self, *names: str) -> SimBridge:
        bridge = SimBridge(str(uuid.uuid4()))
        self.bridges[bridge.id] = bridge
        self.emit({"Event": "BridgeCreate", "Privilege": rec.PRIVILEGE["call"], **bridge.block()})
        for name in names:
            self._enter(bridge, self.channels[name])
        return bridge

    def _enter(self, bridge: SimBridge, ch: SimChannel) -> None:
        bridge.channels.append(ch.name)
        ch.bridge = bridge.id
        self.emit(
            {"Event": "BridgeEnter", "Privilege": rec.PRIVILEGE["call"], **bridge.block(), **ch.block()}
        )

    def _leave(self, ch: SimChannel) -> None:
        bridge = self.bridges.get(ch.bridge)
        ch.bridge = ""
        if bridge is None:
            return
        bridge.channels.remove(ch.name)
        self.emit(
            {"Event": "BridgeLeave", "Privilege": rec.PRIVILEGE["call"], **bridge.block(), **ch.block()}
        )

    def _destroy_if_empty(self, bridge_id: str) -> None:
        bridge = self.bridges.get(bridge_id)
        if bridge is not None and not bridge.channels:
            del self.bridges[bridge_id]
            self.emit({"Event": "BridgeDestroy", "Privilege": rec.PRIVILEGE["call"], **bridge.block()})

    def _gone(self, ch: SimChannel, cause: int) -> None:
        if ch.music:
            self._moh(ch, False)
        self._event("Hangup", ch, Cause=str(cause), **{"Cause-txt": rec.CAUSE_TEXT.get(cause, "Unknown")})
        self.channels.pop(ch.name, None)
        self.consultations.pop(ch.name, None)
        self.dials.pop(ch.name, None)

    def _moh(self, ch: SimChannel, on: bool) -> None:
        ch.music = on
        if on:
            self._event("MusicOnHoldStart", ch, Class="ctibridge")
        else:
            self._event("MusicOnHoldStop", ch)

    def channel(self, name: str) -> SimChannel:
        ch = self.channels.get(name)
        if ch is None:
            raise PbxError(f"{rec.NO_SUCH_CHANNEL}: {name}")
        return ch

    def peer(self, ch: SimChannel) -> SimChannel | None:
        """The other channel of ``ch``'s bridge, or of its unanswered Dial."""
        bridge = self.bridges.get(ch.bridge)
        if bridge is not None:
            names = bridge.channels
        else:
            names = [self.dials.get(ch.name, "")] + [d for d, c in self.dials.items() if c == ch.name]
        return next((self.channels[n] for n in names if n != ch.name and n in self.channels), None)

    # ---------------------------------------------------------- calls from Genesys (a_basic, c_abandon)

    def inbound_ring(
        self,
        dn: str,
        caller: str,
        caller_name: str,
        call_uuid: str,
        sip_call_id: str,
    ) -> tuple[SimChannel, SimChannel]:
        """Genesys INVITEs ``dn``: trunk leg in from-genesys, Dial to the agent, agent rings."""
        trunk = self._new_channel(self._pjsip(self.trunk), 4, "from-genesys", dn)
        trunk.caller_num, trunk.caller_name = caller, caller_name or rec.UNKNOWN
        self._newexten(trunk, "from-genesys", dn, 1, "Set", f"{inherited(CALL_UUID_VAR)}={call_uuid}")
        self._set_var(trunk, CALL_UUID_VAR, call_uuid)
        self._newexten(trunk, "from-genesys", dn, 2, "Set", f"{inherited(SIP_CALL_ID_VAR)}={sip_call_id}")
        self._set_var(trunk, SIP_CALL_ID_VAR, sip_call_id)
        self._newexten(trunk, "from-genesys", dn, 3, "Dial", f"PJSIP/{dn},30,tT")
        agent = self._new_channel(self._pjsip(dn), 0, "from-webrtc", "s", linkedid=trunk.linkedid)
        agent.vars = dict(trunk.vars)  # inherited (__CALLUUID)
        agent.caller_num, agent.exten = dn, dn
        agent.connected_num, agent.connected_name = trunk.caller_num, trunk.caller_name
        self._event("NewCallerid", agent, **{"CID-CallingPres": "0 (Presentation Allowed, Not Screened)"})
        self._event("NewConnectedLine", agent)
        self.dials[agent.name] = trunk.name
        self._dial_event("DialBegin", trunk, agent, DialString=dn)
        trunk.connected_num = dn
        self._event("NewConnectedLine", trunk)
        self._set_state(agent, 5)
        self._dial_event("DialState", trunk, agent, DialStatus="RINGING")
        return trunk, agent

    def answer(self, agent: SimChannel) -> None:
        """The agent's phone answers (a_basic): Up, DialEnd ANSWER, caller Up, one bridge."""
        caller = self._dialling(agent)
        self._set_state(agent, 6)
        self._dial_event("DialEnd", caller, agent, DialStatus="ANSWER")
        if caller.state != 6:
            self._set_state(caller, 6)
        self._bridge(agent.name, caller.name)

    def _dialling(self, dest: SimChannel) -> SimChannel:
        caller = self.channels.get(self.dials.pop(dest.name, ""))
        if caller is None:
            raise PbxError(f"{dest.name} is not being dialled")
        return caller

    def abandon(self, trunk: SimChannel) -> None:
        """Genesys CANCELs while the agent rings (c_abandon)."""
        agent = self.peer(trunk)
        self._event("HangupRequest", trunk, Cause="127")
        if agent is not None:
            self.dials.pop(agent.name, None)
            self._dial_event("DialEnd", trunk, agent, DialStatus="CANCEL")
        self._event("SoftHangupRequest", trunk, Cause="16")
        if agent is not None:
            self._gone(agent, 127)
        self._gone(trunk, 127)

    def hangup(self, ch: SimChannel, cause: int = 16) -> None:
        """``ch`` hangs up (BYE, or AMI Hangup) and its partner with it (a_basic, d_outbound)."""
        consult = self.consultations.get(ch.name)
        if consult is not None and consult.target:
            self._complete_atxfer(consult)
            return
        peer = self.peer(ch)
        bridge_id = ch.bridge
        self._event("HangupRequest", ch, Cause=str(cause))
        self._leave(ch)
        self._event("SoftHangupRequest", ch, Cause=str(cause))
        if peer is not None and peer.bridge == bridge_id and bridge_id:
            self._leave(peer)
        self._destroy_if_empty(bridge_id)
        self._gone(ch, cause)
        if peer is not None and peer.linkedid == ch.linkedid:
            self._gone(peer, cause)

    # ------------------------------------------------------------------ calls from the agent (d_outbound)

    def outbound_dial(self, dn: str, destination: str) -> tuple[SimChannel, SimChannel]:
        agent = self._new_channel(self._pjsip(dn), 4, "from-webrtc", destination)
        agent.caller_num = dn
        self._newexten(
            agent, "from-webrtc", destination, 1, "Dial", f"PJSIP/{destination}@{self.trunk},60,tT"
        )
        trunk = self._new_channel(self._pjsip(self.trunk), 0, "from-genesys", "s", linkedid=agent.uniqueid)
        trunk.caller_num, trunk.exten, trunk.connected_num = destination, destination, dn
        self._event("NewCallerid", trunk, **{"CID-CallingPres": "0 (Presentation Allowed, Not Screened)"})
        self._event("NewConnectedLine", trunk)
        sip_call_id = f"{uuid.uuid4()}"
        self._set_var(trunk, SIP_CALL_ID_VAR, sip_call_id)  # pre-dial handler, copied to the master
        self._set_var(agent, SIP_CALL_ID_VAR, sip_call_id)
        self.dials[trunk.name] = agent.name
        self._dial_event("DialBegin", agent, trunk, DialString=f"{destination}@{self.trunk}")
        agent.connected_num = destination
        self._event("NewConnectedLine", agent)
        self._set_state(trunk, 5)
        self._dial_event("DialState", agent, trunk, DialStatus="RINGING")
        return agent, trunk

    def outbound_answered(self, trunk: SimChannel, call_uuid: str = "") -> None:
        """The far end answers (d_outbound); Genesys' 200 OK may carry X-Genesys-CallUUID."""
        agent = self._dialling(trunk)
        if call_uuid:
            self._set_var(trunk, CALL_UUID_VAR, call_uuid)
            self._set_var(agent, CALL_UUID_VAR, call_uuid)
        self._set_state(trunk, 6)
        self._dial_event("DialEnd", agent, trunk, DialStatus="ANSWER")
        self._set_state(agent, 6)
        self._bridge(trunk.name, agent.name)

    # ------------------------------------------------------------------ hold

    def reinvite_hold(self, trunk: SimChannel, held: bool) -> None:
        """Genesys holds/retrieves by re-INVITE sendonly/sendrecv (b_hold): Hold/Unhold on the trunk."""
        self._event("Hold" if held else "Unhold", trunk)

    def redirect(
        self,
        name: str,
        context: str,
        exten: str,
        extra: str = "",
        extra_context: str = "",
        extra_exten: str = "",
    ) -> str:
        """AMI Redirect (g2/g3 runs): bridged channels leave, then run the target extension."""
        moves = [(self.channel(name), context, exten)]
        if extra:
            moves.append((self.channel(extra), extra_context or context, extra_exten or exten))
        for ch, _, _ in moves:
            if ch.state != 6:
                raise PbxError("Redirect failed, channel not up.")
        bridges = {ch.bridge for ch, _, _ in moves}
        for ch, _, _ in moves:
            self._leave(ch)
        for bridge_id in bridges:
            self._destroy_if_empty(bridge_id)
        for ch, ctx, ext in moves:
            self._run_extension(ch, ctx, ext)
        return rec.DUAL_REDIRECTED if extra else rec.REDIRECTED

    def _run_extension(self, ch: SimChannel, context: str, exten: str) -> None:
        if context == HOLD_CONTEXT and exten == HOLD_MUSIC_EXTEN:
            self._newexten(ch, context, exten, 1, "Answer", "")
            self._newexten(ch, context, exten, 2, "MusicOnHold", "ctibridge")
            self._moh(ch, True)
        elif context == HOLD_CONTEXT:
            self._newexten(ch, context, exten, 1, "Wait", "3600")
        elif context == TRANSFER_CONTEXT:
            self._dial_target(ch, exten)
        else:  # any other extension: the channel runs off the end of the dialplan
            self._newexten(ch, context, exten, 1, "Hangup", "")
            self.hangup(ch)

    def bridge_action(self, name1: str, name2: str) -> str:
        """AMI Bridge (g3 run): both channels out of hold into a new bridge."""
        ch1 = self.channels.get(name1)
        if ch1 is None:
            raise PbxError(f"Channel1 does not exist: {name1}")
        ch2 = self.channels.get(name2)
        if ch2 is None:
            raise PbxError(f"Channel2 does not exist: {name2}")
        for ch in (ch1, ch2):
            if ch.music:
                self._moh(ch, False)
            self._leave(ch)
        self._bridge(ch1.name, ch2.name)
        return rec.BRIDGED

    # ------------------------------------------------------------------ transfers

    def blind_transfer(self, name: str, exten: str, context: str = TRANSFER_CONTEXT) -> str:
        """AMI BlindTransfer of the agent leg (e_blindxfer run): the customer goes to ``exten``."""
        agent = self.channel(name)
        bridge = self.bridges.get(agent.bridge)
        customer = self.peer(agent)
        if bridge is None or customer is None:
            raise PbxError("Transfer invalid")
        for ch in (agent, customer):
            self._set_var_plain(ch, "BLINDTRANSFER", agent.name if ch is customer else customer.name)
        self.emit(
            {
                "Event": "BlindTransfer",
                "Privilege": rec.PRIVILEGE["call"],
                "Result": "Success",
                **agent.block("Transferer"),
                **customer.block("Transferee"),
                **bridge.block(),
                "IsExternal": "Yes",
                "Context": context,
                "Extension": exten,
            }
        )
        self._leave(agent)
        self._leave(customer)
        self._destroy_if_empty(bridge.id)
        self._gone(agent, 16)
        self._newexten(customer, context, exten, 1, "Dial", f"PJSIP/{exten},60,tT")
        self._dial_target(customer, exten)
        return rec.TRANSFERRED

    def _set_var_plain(self, ch: SimChannel, name: str, value: str) -> None:
        self._event("VarSet", ch, privilege="dialplan", Variable=name, Value=value)

    def _dial_target(self, caller: SimChannel, exten: str) -> SimChannel:
        """``Dial`` from ctibridge-xfer: an agent DN directly, anything else through the trunk."""
        endpoint = exten if exten in self.agent_dns else self.trunk
        context = "from-webrtc" if endpoint == exten else "from-genesys"
        dest = self._new_channel(self._pjsip(endpoint), 0, context, "s", linkedid=caller.linkedid)
        dest.vars = dict(caller.vars)
        dest.caller_num, dest.exten = exten, exten
        dest.connected_num, dest.connected_name = caller.caller_num, caller.caller_name
        self.dials[dest.name] = caller.name
        self._dial_event("DialBegin", caller, dest, DialString=exten)
        self._set_state(dest, 5)
        self._dial_event("DialState", caller, dest, DialStatus="RINGING")
        if self.auto_answer_s is not None and endpoint != exten:  # the far end behind Genesys answers
            self.schedule(self.auto_answer_s, lambda: self._answer_if_ringing(dest))
        return dest

    def _answer_if_ringing(self, dest: SimChannel) -> None:
        if dest.name in self.channels and dest.state == 5:
            self.answer(dest)

    def atxfer(self, name: str, exten: str) -> str:
        """AMI Atxfer (f_atxfer run): queued as DTMF; after the digit timeout a Local pair dials
        ``exten`` and the agent moves into the consultation bridge."""
        agent = self.channel(name)
        if not agent.bridge:
            raise PbxError("Atxfer failed: channel is not bridged")
        self._event("Hold", agent)
        self.schedule(self.atxfer_digit_timeout_s, lambda: self._start_consultation(agent.name, exten))
        return rec.ATXFER_QUEUED

    def _start_consultation(self, name: str, exten: str) -> None:
        agent = self.channels.get(name)
        if agent is None or not agent.bridge:
            return
        base = f"Local/{exten}@{TRANSFER_CONTEXT}-{next(self._local):08x}"
        local1, local2 = (
            self._new_channel(f"{base};{i}", 4, TRANSFER_CONTEXT, exten, linkedid=agent.linkedid)
            for i in (1, 2)
        )
        consult = Consultation(agent.name, agent.bridge, local1.name, local2.name)
        self.consultations[agent.name] = consult
        self._leave(agent)
        consult.bridge = self._bridge(local1.name, agent.name).id
        consult.target = self._dial_target(local2, exten).name

    def cancel_atxfer(self, name: str) -> str:
        consult = self.consultations.get(name)
        if consult is None:
            raise PbxError("No attended transfer in progress")
        for leg in (consult.target, consult.local2, consult.local1):
            ch = self.channels.get(leg)
            if ch is not None:
                self._leave(ch)
                self._gone(ch, 16)
        agent = self.channel(name)
        self._leave(agent)
        self._destroy_if_empty(consult.bridge)
        self.consultations.pop(name, None)
        self._enter(self.bridges[consult.original_bridge], agent)
        self._event("Unhold", agent)
        return rec.CANCEL_QUEUED

    def _complete_atxfer(self, consult: Consultation) -> None:
        """The transferer hangs up during the consultation (f_atxfer run): Local;1 joins the
        customer's bridge, AttendedTransfer, the agent leg ends."""
        agent = self.channels[consult.agent]
        local1 = self.channels[consult.local1]
        customer = next((self.channels[n] for n in self.bridges[consult.original_bridge].channels), None)
        self._leave(local1)
        self._enter(self.bridges[consult.original_bridge], local1)
        self._leave(agent)
        self._destroy_if_empty(consult.bridge)
        extra = customer.block("Transferee") if customer else {}
        self.emit(
            {
                "Event": "AttendedTransfer",
                "Privilege": rec.PRIVILEGE["call"],
                "Result": "Success",
                **agent.block("OrigTransferer"),
                **extra,
                **local1.block("TransferTarget"),
                "DestType": "Bridge",
                "IsExternal": "No",
            }
        )
        self.consultations.pop(agent.name, None)
        self._gone(agent, 16)

    # ------------------------------------------------------------------ listings (i_queries)

    def listed(self, kind: str, action_id: str, only: str = "") -> list[AmiEvent]:
        """The items of CoreShowChannels (``CoreShowChannel``) or Status (``Status``; ``only``: the
        ``Channel`` it asks about, an unknown one answers "No such channel")."""
        if only:
            self.channel(only)
        items: list[AmiEvent] = []
        for ch in self.channels.values():
            if only and ch.name != only:
                continue
            item: AmiEvent = {"Event": kind, "ActionID": action_id, **ch.block()}
            if kind == "CoreShowChannel":
                item.update(
                    Application=ch.application or "AppDial",
                    ApplicationData="",
                    Duration="00:00:01",
                    BridgeId=ch.bridge,
                )
            else:
                item.update(
                    Type="PJSIP", BridgeID=ch.bridge, Application=ch.application or "AppDial", Seconds="1"
                )
            items.append(item)
        return items

    def bridge_items(self, action_id: str) -> list[AmiEvent]:
        return [
            {"Event": "BridgeListItem", "ActionID": action_id, **b.block()} for b in self.bridges.values()
        ]

    def registration_items(self, action_id: str) -> list[AmiEvent]:
        """Each agent DN registered toward Genesys (PJSIPShowRegistrationsOutbound)."""
        return [
            {
                "Event": "OutboundRegistrationDetail",
                "ActionID": action_id,
                "ObjectType": "registration",
                "ObjectName": f"{self.trunk}-{dn}",
                "ServerUri": "sip:127.0.0.2:5060",
                "ClientUri": f"sip:{dn}@127.0.0.1:5060",
                "Status": "Registered",
                "NextReg": "3590",
            }
            for dn in sorted(self.agent_dns)
        ]
