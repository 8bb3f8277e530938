"""The correlator: normalized events from Genesys and Asterisk in, numbered call deltas out.

Sans-IO in the h11 sense: no sockets, no clock, no asyncio. Time is the ``t`` of each event (and
the ``now`` given to ``tick``), so a recorded log replays to exactly the same deltas.

How a call is found for an event (``docs/correlation.md`` tells the same story):

1. **DN.** A call belongs to one agent DN. The DN of an Asterisk channel is its PJSIP endpoint name
   (``PJSIP/5001-00000003`` -> 5001) for the agent leg; an inbound trunk channel names it in its
   ``Exten``; a trunk channel dialled by an agent follows the agent's call. Channels of other DNs
   are never attached, so calls of two DNs never mix (a transferred customer leg may belong to the
   calls of both DNs, one after the other: it joins the target's call when it dials the target, or
   when it is bridged with one half of a Local pair whose other half is bridged with the target).
2. **X-Genesys-CallUUID.** The gateway dialplan stores it in the inherited channel variable
   ``CALLUUID`` (sent on every AMI event through ``channelvars``); it equals GWS ``call.callUuid``.
   ``(DN, CallUUID)`` joins the two sides whichever arrives first. ``SIPCALLID`` is kept as an alias.
3. **Linkedid.** Legs of one Asterisk interaction share ``Linkedid``; an agent leg joins the DN's
   call that already holds a leg of the same Linkedid.
4. **Fallback** without a CallUUID (outbound calls from the browser, a dialplan without the header
   capture): same DN, no Genesys/Asterisk partner yet, the far party's number matching (digits,
   suffix of at least 4), both first seen within ``fallback_window`` seconds; the nearest wins.
The bookkeeping lives in ``CallIndex`` (calls and their keys) and ``ChannelTable`` (channels and
bridges); the rule table for disagreeing sides in ``divergence``; persistence in ``snapshot``.
Events may arrive late, twice, or out of order: updates are idempotent, a channel that already
hung up is not resurrected, a Released Genesys call that was never seen creates nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ctibridge.core import defaults, divergence, fallback, snapshot
from ctibridge.core.actions import OperationKind
from ctibridge.core.call_index import CallIndex, Key, Side
from ctibridge.core.channels import ChannelRecord, ChannelTable
from ctibridge.core.deltas import Delta, Op
from ctibridge.core.dialplan import CALL_UUID_VAR, HOLD_CONTEXT, SIP_CALL_ID_VAR
from ctibridge.core.divergence import Repair as Repair  # re-exported: the service names it from here
from ctibridge.core.events import (
    AmiLink,
    BridgeUpdate,
    Channel,
    ChannelHangup,
    ChannelUpdate,
    DialUpdate,
    GwsCall,
    GwsCallsSnapshot,
    GwsCallUpdate,
    GwsDeviceUpdate,
    GwsLink,
    HoldUpdate,
    InboundEvent,
    ParseError,
    TransferUpdate,
)
from ctibridge.core.model import AsteriskSide, Call, GenesysSide, Leg, Role, State

LISTING_EVENTS = frozenset({"CoreShowChannel", "Status"})  # a resync's channel list


@dataclass(frozen=True, slots=True)
class CorrelatorSettings:
    trunk_endpoints: frozenset[str] = frozenset({"genesys"})
    dns: frozenset[str] | None = None  # None: any numeric PJSIP endpoint is an agent DN
    grace: float = defaults.GRACE_PERIOD_S  # the two sides may disagree this long before: diverged
    fallback_window: float = defaults.FALLBACK_WINDOW_S
    linger: float = 120.0  # a call one side ended is dropped after this, whatever the other says
    operation_timeout: float = 10.0
    repairs: frozenset[str] = field(default_factory=divergence.default_repairs)


@dataclass(slots=True)
class Stats:
    parse_errors: Counter[str] = field(default_factory=Counter)
    divergences: Counter[str] = field(default_factory=Counter)


class Correlator:
    def __init__(self, settings: CorrelatorSettings | None = None) -> None:
        self.settings = settings or CorrelatorSettings()
        self.stats = Stats()
        self._index = CallIndex()
        self._channels = ChannelTable()
        self._seqs: dict[str, int] = {}  # DN -> last delta sequence
        self._genesys_dns: set[str] = set()  # DNs with a GWS session: their calls must have a Genesys side
        self._genesys_dns_changed = False
        self._asterisk_seen = False
        self._boot_time: float | None = None
        self._repairs: list[Repair] = []
        self._out: list[Delta] = []
        self._touched: dict[str, None] = {}  # calls the current event changed
        self._dirty: dict[str, str] = {}  # call id -> DN, of the calls changed since the last export
        self._timed: dict[str, None] = {}  # calls time alone can change (grace, linger, operations)

    # ================================================================ public API

    def feed(self, event: InboundEvent) -> list[Delta]:
        """Apply one event; return the deltas it caused, in order."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        return self._flush(event.t)

    def tick(self, now: float) -> list[Delta]:
        """Let time pass: grace periods end, lingering calls go, stale operations expire."""
        for cid in list(self._timed):
            call = self._index.get(cid)
            if call is None:
                del self._timed[cid]
                continue
            call.pending_ops = {k: d for k, d in call.pending_ops.items() if d > now}
            if call.sync.status == "pending" or self._lingered(call, now):
                self._touched[cid] = None
        return self._flush(now)

    def snapshot(self, dn: str) -> tuple[int, list[dict[str, Any]]]:
        """The DN's sequence number and the views of its live calls, as last sent."""
        views = [call.emitted for call in self._index.of_dn(dn)]
        return self._seqs.get(dn, 0), [v for v in views if v is not None]

    def calls(self) -> list[dict[str, Any]]:
        return [c.emitted for c in self._index if c.emitted is not None]

    def call(self, call_id: str) -> dict[str, Any] | None:
        found = self._index.get(call_id)
        return found.emitted if found is not None else None

    def drain_repairs(self) -> list[Repair]:
        repairs, self._repairs = self._repairs, []
        return repairs

    def note_operation(self, call_id: str, kind: str, t: float) -> None:
        """The bridge itself started ``kind`` on this call: its echo is not a divergence to repair.
        What is noted is part of the persisted state: a successor owner must know it too."""
        call = self._index.get(call_id)
        if call is None:
            return
        call.pending_ops[kind] = t + self.settings.operation_timeout
        if kind in (OperationKind.AMI_HOLD, OperationKind.AMI_RETRIEVE):
            call.agent_hold = kind == OperationKind.AMI_HOLD
        self._dirty[call.id] = call.dn
        self._timed[call.id] = None

    # ================================================================ Asterisk events

    def _on_channel(self, ev: ChannelUpdate) -> None:
        ch = ev.channel
        self._asterisk_seen = True
        if self._channels.ended(ch.uniqueid):
            return  # a hung-up channel is never resurrected
        self._channels.listed(ch.uniqueid)
        rec, _ = self._channels.upsert(ch)
        if ev.bridge_id:
            self._channels.enter(ch.uniqueid, ev.bridge_id)
        if not rec.calls:
            self._attach_new(rec, ev.t)
        if ev.bridge_id:
            # A listed channel (resync) already in a bridge: its partners join as on BridgeEnter,
            # else a correlator that starts from a listing never learns the trunk leg.
            for other in self._channels.bridged_with(ch.uniqueid):
                self._connect(rec, other, ev.t)
        for call, leg in self._legs_of(rec):
            changed = leg.update(ch)
            if ev.bridge_id and ev.bridge_id != leg.bridge_id:
                leg.bridge_id, changed = ev.bridge_id, True
            if ch.context == HOLD_CONTEXT and not leg.sent_to_hold and (
                    ev.event == "Newexten" or (ev.event in LISTING_EVENTS and not ev.bridge_id)):
                # A Redirect into the hold context (Asterisk reports it before the BridgeLeave), or
                # a channel listed there outside any bridge: an AMI hold.
                leg.sent_to_hold = changed = True
            if self._learn_ids(call, ch, ev.t) or changed:
                self._touched[call.id] = None

    def _on_dial(self, ev: DialUpdate) -> None:
        self._asterisk_seen = True
        dest = self._record(ev.dest, ev.t)
        caller = self._record(ev.caller, ev.t) if ev.caller is not None else None
        if caller is not None:
            self._connect(caller, dest, ev.t)
        for rec in (dest, caller):
            if rec is not None:
                self._refresh_legs(rec)

    def _on_bridge(self, ev: BridgeUpdate) -> None:
        self._asterisk_seen = True
        uid = ev.channel.uniqueid
        if not self._channels.ended(uid):
            if ev.entered:
                self._channels.enter(uid, ev.bridge_id)
            elif self._channels.bridge_of(uid) == ev.bridge_id:
                self._channels.leave(uid)
        rec = self._record(ev.channel, ev.t)
        if ev.entered:
            # A channel bridged with a call's agent leg (e.g. after an AMI Bridge) joins that call.
            for other in self._channels.bridged_with(uid):
                self._connect(rec, other, ev.t)
        for _, leg in self._legs_of(rec):
            leg.bridge_id = ev.bridge_id if ev.entered else ""
            leg.sent_to_hold = leg.sent_to_hold and not ev.entered  # retrieved by a Bridge
        for member in self._channels.members(ev.bridge_id) | {uid}:
            member_rec = self._channels.get(member)
            if member_rec is not None:
                self._refresh_legs(member_rec)
                for call, _ in self._legs_of(member_rec):
                    self._update_consulting(call)

    def _update_consulting(self, call: Call) -> None:
        # An Asterisk consult transfer (Atxfer) moves the agent into a bridge with the ";1" half of
        # the Local pair that dials the target; the target's own DN sees the ";2" half instead.
        side = call.asterisk
        agent = side.alive(Role.AGENT) if side is not None else None
        if side is None or agent is None:
            return
        members = self._channels.members(agent.bridge_id) if agent.bridge_id else set()
        side.consulting = any(
            (rec := self._channels.get(uid)) is not None and rec.channel.name.startswith("Local/")
            and rec.channel.name.endswith(";1") for uid in members)

    def _on_hold(self, ev: HoldUpdate) -> None:
        for call, leg in self._legs_of(self._record(ev.channel, ev.t)):
            if ev.music:
                leg.moh = ev.held
            else:
                leg.held = ev.held
            self._touched[call.id] = None

    def _on_hangup(self, ev: ChannelHangup) -> None:
        self._end_channel(ev.channel.uniqueid, ev.cause, ev.cause_txt, ev.t)

    def _on_transfer(self, ev: TransferUpdate) -> None:
        if ev.result != "Success" or ev.transferer is None:
            return
        rec = self._channels.get(ev.transferer.uniqueid)
        for call, _ in self._legs_of(rec) if rec is not None else ():
            assert call.asterisk is not None
            call.asterisk.transfer = ev.kind
            self._touched[call.id] = None

    def _on_ami_link(self, ev: AmiLink) -> None:
        self._asterisk_seen = True
        if ev.status == "booted" and ev.uptime is not None:
            boot = ev.t - ev.uptime
            if self._boot_time is not None and boot > self._boot_time + 5.0:
                self._end_all_channels(ev.t, "Asterisk restarted")
            self._boot_time = boot
        elif ev.status == "shutdown":
            self._end_all_channels(ev.t, "Asterisk shut down")
        elif ev.status == "resync_begin":
            self._channels.begin_resync()
        elif ev.status == "resync_end":
            for uid in self._channels.end_resync():
                self._end_channel(uid, 0, "ended while the AMI link was down", ev.t)

    # ================================================================ Genesys events

    def _on_gws_call(self, ev: GwsCallUpdate) -> None:
        self._expect_genesys(ev.dn, True)
        self._apply_gws_call(ev.dn, ev.call, ev.t)

    def _apply_gws_call(self, dn: str, gc: GwsCall, t: float) -> Call | None:
        if (dn, gc.id) in self._index.released:
            return None  # a repeated or late event of a call that ended
        call = (self._find_gws(dn, gc) or self._index.find(Key.UUID, dn, gc.call_uuid)
                or self._fallback(dn, t, has=Side.ASTERISK, numbers=(gc.ani, gc.dnis, *gc.participants),
                                  uuid=gc.call_uuid))
        if call is None:
            if GenesysSide(gc).state is State.RELEASED:
                return None  # the end of a call we never saw: nothing to show
            call = self._index.new(dn, t)
        if call.genesys is None:
            call.genesys = GenesysSide(gc)
            self._index.sides_changed(call)
        else:
            _follow(call.genesys, gc)
        self._index.link(Key.GWS, dn, gc.id, call)
        self._index.link(Key.GWS, dn, gc.conn_id, call)
        if gc.call_uuid:
            self._set_uuid(call, gc.call_uuid, t)
        if call.genesys.state is State.RELEASED and call.genesys.released_at is None:
            call.genesys.released_at = t
            self._index.remember_released(dn, gc.id)
        if call.parent_id is None:
            call.parent_id = self._parent_of(dn, gc, call)
        self._touched[call.id] = None
        return call

    def _on_gws_snapshot(self, ev: GwsCallsSnapshot) -> None:
        self._expect_genesys(ev.dn, True)
        listed = {call.id for gc in ev.calls if (call := self._apply_gws_call(ev.dn, gc, ev.t)) is not None}
        for call in self._index.of_dn(ev.dn):
            side = call.genesys
            if call.id not in listed and side is not None and side.state is not State.RELEASED:
                side.call = replace(side.call, state="Released", capabilities=())
                side.released_at = ev.t
                self._index.remember_released(ev.dn, side.call.id)
                self._touched[call.id] = None

    def _on_gws_device(self, ev: GwsDeviceUpdate) -> None:
        self._expect_genesys(ev.dn, True)

    def _on_gws_link(self, ev: GwsLink) -> None:
        if ev.status == "connected":
            self._expect_genesys(ev.dn, True)
        elif ev.status in ("lost", "login_failed", "stopped"):
            self._expect_genesys(ev.dn, False)

    def _expect_genesys(self, dn: str, expected: bool) -> None:
        if (dn in self._genesys_dns) != expected:
            (self._genesys_dns.add if expected else self._genesys_dns.discard)(dn)
            self._genesys_dns_changed = True

    def _on_parse_error(self, ev: ParseError) -> None:
        self.stats.parse_errors[ev.source] += 1

    # ================================================================ attaching channels

    def _is_dn(self, name: str) -> bool:
        if self.settings.dns is not None:
            return name in self.settings.dns
        return name.isdigit() and name not in self.settings.trunk_endpoints

    def _classify(self, ch: Channel) -> tuple[Role | None, str]:
        endpoint = ch.endpoint
        if endpoint in self.settings.trunk_endpoints:
            # An inbound trunk channel is born ringing (Ring) with the DN it is offered to as exten;
            # one Asterisk dials outward is born Down.
            dn = ch.exten if ch.state == 4 and self._is_dn(ch.exten) else ""
            return Role.TRUNK, dn
        if endpoint and self._is_dn(endpoint):
            return Role.AGENT, endpoint
        return None, ""

    def _attach_new(self, rec: ChannelRecord, t: float) -> None:
        """A channel that names a DN joins that DN's call: by CallUUID, else by Linkedid, else by
        the fallback match, else it starts a new call."""
        ch = rec.channel
        role, dn = self._classify(ch)
        if role is None or not dn:
            return  # a trunk leg dialled by an agent, or a Local channel: joins by Dial/Bridge
        uuid = ch.vars.get(CALL_UUID_VAR, "")
        outbound = role is Role.AGENT and ch.state == 4  # the agent's browser is the caller
        call = (self._index.find(Key.UUID, dn, uuid) or self._same_interaction(dn, ch.linkedid)
                or self._fallback(dn, t, has=Side.GENESYS, numbers=(ch.exten if outbound else ch.caller_num,),
                                  uuid=uuid)
                or self._index.new(dn, t))
        if call.asterisk is None:
            call.asterisk = AsteriskSide(linkedid=ch.linkedid, outbound=outbound, first_seen=t)
            self._index.sides_changed(call)
        self._add_leg(call, rec, role, t)

    def _connect(self, a: ChannelRecord, b: ChannelRecord, t: float) -> None:
        """``a`` and ``b`` are connected (dialled, or bridged): a trunk leg joins the other's calls."""
        for rec, partner in ((a, b), (b, a)):
            if self._classify(partner.channel)[0] is Role.TRUNK:
                for call in self._calls_behind(rec):
                    if call.id not in partner.calls and call.asterisk is not None:
                        self._add_leg(call, partner, Role.TRUNK, t)

    def _calls_behind(self, rec: ChannelRecord) -> list[Call]:
        """The calls ``rec`` is a leg of. A Local channel half is a leg of none: it stands for what
        is bridged with its twin (after an Asterisk consult transfer, the customer's trunk is
        bridged with one half and the target agent with the other)."""
        twin = self._channels.twin(rec)
        recs = [rec] if twin is None else self._channels.bridged_with(twin.channel.uniqueid)
        return [call for r in recs for cid in list(r.calls) if (call := self._index.get(cid)) is not None]

    def _add_leg(self, call: Call, rec: ChannelRecord, role: Role, t: float) -> None:
        ch = rec.channel
        assert call.asterisk is not None
        leg = Leg(uniqueid=ch.uniqueid, name=ch.name, role=role, linkedid=ch.linkedid)
        leg.update(ch)
        leg.bridge_id = self._channels.bridge_of(ch.uniqueid)
        call.asterisk.legs[ch.uniqueid] = leg
        call.asterisk.gone_at = None
        if role is Role.TRUNK and call.parent_id is None:
            self._link_transferer(call, rec)
        rec.calls.add(call.id)
        self._index.link(Key.LINKEDID, call.dn, ch.linkedid, call)
        self._index.link(Key.LINKEDID, call.dn, ch.uniqueid, call)
        self._learn_ids(call, ch, t)
        self._touched[call.id] = None

    def _link_transferer(self, call: Call, trunk: ChannelRecord) -> None:
        """A customer leg that was (or still is) another DN's joins this call: that DN's agent
        transferred the customer here. Link the two; bring the user data Genesys gave the first."""
        others = (self._index.get(cid) for cid in trunk.calls)
        origin = next((c for c in others if c is not None and c.dn != call.dn), None)
        if origin is None and trunk.left is not None and trunk.left.dn != call.dn:
            origin = trunk.left
        if origin is None:
            return
        call.parent_id = origin.id
        if origin.genesys is not None:
            call.transferred_user_data = dict(origin.genesys.call.user_data)

    def _same_interaction(self, dn: str, linkedid: str) -> Call | None:
        """The DN's live call that already holds a leg of this Linkedid."""
        call = self._index.find(Key.LINKEDID, dn, linkedid)
        if call is None or call.asterisk is None or call.asterisk.state() is State.RELEASED:
            return None
        return call

    def _fallback(self, dn: str, t: float, *, has: Side, numbers: tuple[str, ...], uuid: str) -> Call | None:
        """A partner call on ``dn`` that has only the ``has`` side, by number and time."""
        window = self.settings.fallback_window
        return fallback.nearest(self._index.one_sided(dn, has, t - window), t, numbers, uuid, window)

    def _learn_ids(self, call: Call, ch: Channel, t: float) -> bool:
        """Take the CallUUID / SIP Call-ID the channel carries; True when the call learnt one."""
        learnt = False
        uuid = ch.vars.get(CALL_UUID_VAR, "")
        if uuid and self._index.find(Key.UUID, call.dn, uuid) is not call:
            self._set_uuid(call, uuid, t)  # new, or it names another call: the two are merged
            learnt = True
        sip_call_id = ch.vars.get(SIP_CALL_ID_VAR, "")
        if sip_call_id and not call.sip_call_id:
            call.sip_call_id = sip_call_id
            learnt = True
        return learnt

    def _set_uuid(self, call: Call, uuid: str, t: float) -> None:
        other = self._index.find(Key.UUID, call.dn, uuid)
        if other is not None and other is not call:
            # Keep the call the agent has seen longest; the other one is folded into it.
            keep, gone = sorted((other, call), key=lambda c: (c.created_at, c.id))
            self._merge(keep, gone, t)
            return
        self._index.link(Key.UUID, call.dn, uuid, call)
        if not call.call_uuid:
            call.call_uuid = uuid

    def _merge(self, keep: Call, gone: Call, t: float) -> None:
        """Two calls turned out to be the same interaction (the CallUUID arrived late)."""
        if keep.genesys is None:
            keep.genesys = gone.genesys
        if keep.asterisk is None:
            keep.asterisk = gone.asterisk
        elif gone.asterisk is not None:
            keep.asterisk.legs.update(gone.asterisk.legs)
        for uid in gone.asterisk.legs if gone.asterisk is not None else ():
            rec = self._channels.get(uid)
            if rec is not None:
                rec.calls.discard(gone.id)
                rec.calls.add(keep.id)
        self._index.fold(gone, keep)
        keep.sip_call_id = keep.sip_call_id or gone.sip_call_id
        keep.call_uuid = keep.call_uuid or gone.call_uuid
        self._index.link(Key.UUID, keep.dn, keep.call_uuid, keep)
        self._index.sides_changed(keep)
        self._drop(gone, t, merged_into=keep.id)
        self._touched[keep.id] = None

    # ================================================================ helpers

    def _record(self, ch: Channel, t: float) -> ChannelRecord:
        if self._channels.ended(ch.uniqueid):
            return ChannelRecord(ch)  # a late event of a channel that is gone: attached to nothing
        rec, new = self._channels.upsert(ch)
        if new:
            self._attach_new(rec, t)
        return rec

    def _legs_of(self, rec: ChannelRecord) -> Iterator[tuple[Call, Leg]]:
        """The calls ``rec`` is a leg of, each with that leg."""
        for cid in list(rec.calls):
            call = self._index.get(cid)
            leg = call.asterisk.legs.get(rec.channel.uniqueid) if call and call.asterisk else None
            if call is not None and leg is not None:
                yield call, leg

    def _refresh_legs(self, rec: ChannelRecord) -> None:
        for call, leg in self._legs_of(rec):
            leg.update(rec.channel)
            self._touched[call.id] = None

    def _end_channel(self, uid: str, cause: int, text: str, t: float) -> None:
        rec = self._channels.end(uid)
        for call, leg in self._legs_of(rec) if rec is not None else ():
            assert call.asterisk is not None
            if leg.alive:
                leg.alive = False
                leg.hangup_cause = cause
                leg.hangup_text = text
                leg.bridge_id = ""
                if call.asterisk.state() is State.RELEASED and call.asterisk.gone_at is None:
                    call.asterisk.gone_at = t
            self._touched[call.id] = None

    def _end_all_channels(self, t: float, why: str) -> None:
        for uid in self._channels.uids():
            self._end_channel(uid, 0, why, t)

    def _find_gws(self, dn: str, gc: GwsCall) -> Call | None:
        for key in (gc.id, gc.previous_conn_id, gc.conn_id):
            call = self._index.find(Key.GWS, dn, key)
            if call is not None:
                return call
        return None

    def _parent_of(self, dn: str, gc: GwsCall, call: Call) -> str | None:
        if gc.parent_conn_id:
            parent = self._index.find(Key.GWS, dn, gc.parent_conn_id)
            return parent.id if parent is not None else None
        if gc.call_type == "Consult":  # v2 has no parent field: the DN's held call is the parent
            for other in reversed(self._index.of_dn(dn)):
                if other is not call and other.genesys is not None and other.genesys.state is State.HELD:
                    return other.id
        return None

    def _lingered(self, call: Call, now: float) -> bool:
        # Only a Genesys side may outlive its audio leg (its session may be gone for good); a
        # channel still up on Asterisk is real and stays.
        gone_at = call.asterisk.gone_at if call.asterisk is not None else None
        return gone_at is not None and now - gone_at >= self.settings.linger

    def _watch_time(self, call: Call) -> None:
        """Keep ``call`` among those ``tick`` looks at while time alone can change it."""
        gone_at = call.asterisk.gone_at if call.asterisk is not None else None
        if call.sync.status == "pending" or call.pending_ops or gone_at is not None:
            self._timed[call.id] = None
        else:
            self._timed.pop(call.id, None)

    # ================================================================ output

    def _flush(self, t: float) -> list[Delta]:
        touched, self._touched = self._touched, {}
        for cid in touched:
            call = self._index.get(cid)
            if call is not None:
                self._dirty[cid] = call.dn
                self._refresh(call, t)
        out, self._out = self._out, []
        return out

    def _refresh(self, call: Call, t: float) -> None:
        state = call.unified_state()
        if state is not call.state:
            call.state, call.state_since = state, t
        expect_genesys = call.dn in self._genesys_dns
        diverged = divergence.evaluate(call, t, expect_genesys, self._asterisk_seen, self.settings.grace)
        if diverged is not None:
            self.stats.divergences[diverged.id] += 1
            repair = divergence.repair_for(call, diverged, t, self.settings.repairs,
                                           self.settings.operation_timeout)
            if repair is not None:
                self._repairs.append(repair)
        if call.finished() or self._lingered(call, t):
            self._drop(call, t)
            return
        self._watch_time(call)
        view = call.view()
        if view != call.emitted:
            self._emit(call, Op.CREATED if call.emitted is None else Op.UPDATED, view, t)

    def _emit(self, call: Call, op: Op, view: dict[str, Any], t: float) -> None:
        seq = self._seqs[call.dn] = self._seqs.get(call.dn, 0) + 1
        call.emitted = view
        self._out.append(Delta(call.dn, seq, op, view, t))

    def _drop(self, call: Call, t: float, merged_into: str | None = None) -> None:
        """Remove a finished (or merged) call; its last view goes out with the ``removed`` delta."""
        self._index.remove(call)
        self._timed.pop(call.id, None)
        self._dirty[call.id] = call.dn
        for uid in call.asterisk.legs if call.asterisk is not None else ():
            rec = self._channels.get(uid)
            if rec is not None:
                rec.calls.discard(call.id)
                rec.left = call
        if call.emitted is None:
            return  # never shown: nothing to take back
        if merged_into is None:
            call.state = State.RELEASED
        view = call.view()
        if merged_into is not None:
            view["merged_into"] = merged_into
        self._emit(call, Op.REMOVED, view, t)

    # ================================================================ persistence

    def export_state(self) -> dict[str, Any]:
        """Everything needed to continue after a restart (JSON-able; ``snapshot.merge_state``
        folds later ``export_changes`` into it)."""
        self._dirty.clear()
        self._genesys_dns_changed = False
        meta = self._meta(self._seqs.keys() | self._index.counters.keys())
        meta["genesys_dns"] = sorted(self._genesys_dns)
        return snapshot.full_state(self._index, meta)

    def export_changes(self) -> dict[str, Any]:
        """What changed since the last export: the calls touched (``None`` = removed) and the
        small global part. Cheap per event, unlike a full export with many live calls."""
        dirty, self._dirty = self._dirty, {}
        meta = self._meta(set(dirty.values()))
        if self._genesys_dns_changed:
            meta["genesys_dns"] = sorted(self._genesys_dns)
            self._genesys_dns_changed = False
        return snapshot.changes({cid: self._index.get(cid) for cid in dirty}, meta)

    def _meta(self, dns: Iterable[str]) -> dict[str, Any]:
        """The global part for ``dns`` only: a DN's sequence and counter change with its calls."""
        counters = self._index.counters
        return {"seqs": {dn: self._seqs[dn] for dn in dns if dn in self._seqs},
                "counters": {dn: counters[dn] for dn in dns if dn in counters},
                "asterisk_seen": self._asterisk_seen, "boot_time": self._boot_time}

    @classmethod
    def restore(cls, state: dict[str, Any], settings: CorrelatorSettings | None = None) -> Correlator:
        """A correlator that continues from ``export_state`` (merged with later changes). Channels
        not attached to any call are not kept; the AMI resync after the takeover lists them."""
        self = cls(settings)
        loaded = snapshot.load_state(state)
        if loaded is None:
            return self
        calls, meta = loaded
        for call in calls:
            self._adopt(call)
        self._seqs = dict(meta["seqs"])
        self._index.counters.update(meta["counters"])
        self._genesys_dns = set(meta["genesys_dns"])
        self._asterisk_seen = bool(meta["asterisk_seen"])
        self._boot_time = meta["boot_time"]
        return self

    def _adopt(self, call: Call) -> None:
        """Index a restored call and the live channels it holds."""
        self._index.add(call)
        self._index.link(Key.UUID, call.dn, call.call_uuid, call)
        if call.genesys is not None:
            for key in (call.genesys.call.id, call.genesys.call.conn_id, *call.genesys.previous_conn_ids):
                self._index.link(Key.GWS, call.dn, key, call)
        for leg in call.asterisk.legs.values() if call.asterisk is not None else ():
            self._index.link(Key.LINKEDID, call.dn, leg.linkedid, call)
            self._index.link(Key.LINKEDID, call.dn, leg.uniqueid, call)
            if leg.alive:
                rec = self._channels.get(leg.uniqueid) or self._channels.upsert(leg.channel())[0]
                rec.calls.add(call.id)
                if leg.bridge_id:
                    self._channels.enter(leg.uniqueid, leg.bridge_id)
        self._watch_time(call)


def _follow(side: GenesysSide, gc: GwsCall) -> None:
    """The Genesys side takes the call's latest resource, remembering connection ids it had (v3
    re-keys a call by connection id)."""
    if gc.previous_conn_id and gc.previous_conn_id not in side.previous_conn_ids:
        side.previous_conn_ids.append(gc.previous_conn_id)
    old = side.call.conn_id
    if old and gc.conn_id and gc.conn_id != old and old not in side.previous_conn_ids:
        side.previous_conn_ids.append(old)
    side.call = gc


_HANDLERS: dict[type, Any] = {
    ChannelUpdate: Correlator._on_channel,
    DialUpdate: Correlator._on_dial,
    BridgeUpdate: Correlator._on_bridge,
    HoldUpdate: Correlator._on_hold,
    ChannelHangup: Correlator._on_hangup,
    TransferUpdate: Correlator._on_transfer,
    AmiLink: Correlator._on_ami_link,
    GwsCallUpdate: Correlator._on_gws_call,
    GwsCallsSnapshot: Correlator._on_gws_snapshot,
    GwsDeviceUpdate: Correlator._on_gws_device,
    GwsLink: Correlator._on_gws_link,
    ParseError: Correlator._on_parse_error,
}
