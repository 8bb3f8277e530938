"""The correlator: normalized events from Genesys and Asterisk in, numbered call deltas out.

Sans-IO in the h11 sense: no sockets, no clock, no asyncio. Time is the ``t`` of each event (and
the ``now`` given to ``tick``), so a recorded log replays to exactly the same deltas.

How a call is found for an event (``docs/correlation.md`` tells the same story):

1. **DN.** A call belongs to one agent DN. The DN of an Asterisk channel is its PJSIP endpoint name
   (``PJSIP/5001-00000003`` -> 5001) for the agent leg; an inbound trunk channel names it in its
   ``Exten``; a trunk channel dialled by an agent follows the agent's call. Channels of other DNs
   are never attached, so calls of two DNs never mix (a transferred customer leg may belong to the
   calls of both DNs, one after the other).
2. **X-Genesys-CallUUID.** The gateway dialplan stores it in the inherited channel variable
   ``CALLUUID`` (sent on every AMI event through ``channelvars``); it equals GWS ``call.callUuid``.
   ``(DN, CallUUID)`` joins the two sides whichever arrives first. ``SIPCALLID`` is kept as an alias.
3. **Linkedid.** Legs of one Asterisk interaction share ``Linkedid``; an agent leg joins the DN's
   call that already holds a leg of the same Linkedid.
4. **Fallback** without a CallUUID (outbound calls from the browser, a dialplan without the header
   capture): same DN, no Genesys/Asterisk partner yet, the far party's number matching (digits,
   suffix of at least 4), both first seen within ``fallback_window`` seconds; the nearest wins.
Events may arrive late, twice, or out of order: updates are idempotent, a channel that already
hung up is not resurrected, a Released Genesys call that was never seen creates nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ctibridge.core import divergence
from ctibridge.core.actions import AmiOp, GwsOp, ami_step
from ctibridge.core.deltas import Delta, Op
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
from ctibridge.core.model import AsteriskSide, Call, GenesysSide, Leg, Role, State, Sync
from ctibridge.core.snapshot import dump_call, load_call

STATE_VERSION = 2
ENDED_MEMORY = 10_000  # ended channels / released calls remembered to ignore their late events


@dataclass(frozen=True, slots=True)
class CorrelatorSettings:
    trunk_endpoints: frozenset[str] = frozenset({"genesys"})
    dns: frozenset[str] | None = None  # None: any numeric PJSIP endpoint is an agent DN
    grace: float = 3.0  # seconds two sides may disagree before the call counts as diverged
    fallback_window: float = 10.0
    linger: float = 120.0  # a call one side ended is dropped after this, whatever the other says
    operation_timeout: float = 10.0
    repairs: frozenset[str] = field(default_factory=divergence.default_repairs)


@dataclass(frozen=True, slots=True)
class Repair:
    """An automatic repair the divergence rules ask the service to carry out."""

    call_id: str
    dn: str
    rule: str
    step: AmiOp | GwsOp
    t: float


@dataclass(slots=True)
class Stats:
    events: Counter[str] = field(default_factory=Counter)
    parse_errors: Counter[str] = field(default_factory=Counter)
    divergences: Counter[str] = field(default_factory=Counter)
    deltas: int = 0
    merges: int = 0


@dataclass(slots=True)
class _ChannelRecord:
    channel: Channel
    calls: set[str] = field(default_factory=set)


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def numbers_match(a: str, b: str) -> bool:
    da, db = _digits(a), _digits(b)
    if not da or not db:
        return False
    if da == db:
        return True
    short, long_ = sorted((da, db), key=len)
    return len(short) >= 4 and long_.endswith(short)


class Correlator:
    def __init__(self, settings: CorrelatorSettings | None = None) -> None:
        self.settings = settings or CorrelatorSettings()
        self.stats = Stats()
        self._calls: dict[str, Call] = {}
        self._dn_calls: dict[str, list[str]] = {}
        self._channels: dict[str, _ChannelRecord] = {}
        self._bridges: dict[str, set[str]] = {}
        self._by_uuid: dict[tuple[str, str], str] = {}
        self._by_gws: dict[tuple[str, str], str] = {}
        self._keys: dict[str, list[tuple[dict[tuple[str, str], str], tuple[str, str]]]] = {}  # per call
        self._seqs: dict[str, int] = {}
        self._counters: dict[str, int] = {}
        self._genesys_dns: set[str] = set()
        self._asterisk_seen = False
        self._boot_time: float | None = None
        self._resync: set[str] | None = None
        # Recently ended channels and Genesys calls: their late or repeated events must not revive them.
        self._ended: dict[str, None] = {}
        self._released: dict[tuple[str, str], None] = {}
        self._repairs: list[Repair] = []
        self.agent_states: dict[str, tuple[str, str]] = {}
        self._out: list[Delta] = []
        self._touched: dict[str, None] = {}
        self._dirty: dict[str, str] = {}  # call id -> DN, of the calls changed since the last export
        self._genesys_dns_changed = False

    # ================================================================ public API

    def feed(self, event: InboundEvent) -> list[Delta]:
        """Apply one event; return the deltas it caused, in order."""
        self.stats.events[type(event).__name__] += 1
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        return self._flush(event.t)

    def tick(self, now: float) -> list[Delta]:
        """Let time pass: grace periods end, lingering calls go, stale operations expire."""
        for call in list(self._calls.values()):
            call.pending_ops = {k: d for k, d in call.pending_ops.items() if d > now}
            if call.sync.status == "pending" or self._lingered(call, now):
                self._touched[call.id] = None
        return self._flush(now)

    def snapshot(self, dn: str) -> tuple[int, list[dict[str, Any]]]:
        """The DN's sequence number and the views of its live calls, as last sent."""
        views = [self._calls[cid].emitted for cid in self._dn_calls.get(dn, ())]
        return self._seqs.get(dn, 0), [v for v in views if v is not None]

    def calls(self) -> list[dict[str, Any]]:
        return [c.emitted for c in self._calls.values() if c.emitted is not None]

    def call(self, call_id: str) -> dict[str, Any] | None:
        found = self._calls.get(call_id)
        return found.emitted if found is not None else None

    def drain_repairs(self) -> list[Repair]:
        repairs, self._repairs = self._repairs, []
        return repairs

    def note_operation(self, call_id: str, kind: str, t: float) -> None:
        """The bridge itself started ``kind`` on this call: its echo is not a divergence to repair."""
        call = self._calls.get(call_id)
        if call is not None:
            call.pending_ops[kind] = t + self.settings.operation_timeout
            if kind in ("ami_hold", "ami_retrieve"):
                call.agent_hold = kind == "ami_hold"

    # ================================================================ Asterisk events

    def _on_channel(self, ev: ChannelUpdate) -> None:
        ch = ev.channel
        self._asterisk_seen = True
        if ch.uniqueid in self._ended:
            return
        if self._resync is not None:
            self._resync.add(ch.uniqueid)
        rec = self._channels.get(ch.uniqueid)
        if rec is None:
            rec = self._channels[ch.uniqueid] = _ChannelRecord(ch)
        else:
            rec.channel = ch
        if ev.bridge_id:
            self._bridges.setdefault(ev.bridge_id, set()).add(ch.uniqueid)
        if not rec.calls:
            self._attach_new(rec, ev.t)
        if ev.bridge_id:
            # A listed channel (resync) already in a bridge: its partners join as on BridgeEnter,
            # else a correlator that starts from a listing never learns the trunk leg.
            for other in list(self._bridges[ev.bridge_id] - {ch.uniqueid}):
                other_rec = self._channels.get(other)
                if other_rec is not None:
                    for cid in list(rec.calls):
                        self._attach_partner(self._calls[cid], other_rec, ev.t)
                    for cid in list(other_rec.calls):
                        self._attach_partner(self._calls[cid], rec, ev.t)
        for cid in rec.calls:
            call = self._calls[cid]
            leg = self._leg(call, ch.uniqueid)
            if leg is None:
                continue
            changed = leg.update(ch)
            if ev.bridge_id and ev.bridge_id != leg.bridge_id:
                leg.bridge_id, changed = ev.bridge_id, True
            if self._learn_ids(call, ch, ev.t) or changed:
                self._touched[cid] = None

    def _on_dial(self, ev: DialUpdate) -> None:
        self._asterisk_seen = True
        dest = self._record(ev.dest, ev.t)
        caller = self._record(ev.caller, ev.t) if ev.caller is not None else None
        if caller is not None:
            for cid in list(caller.calls):
                self._attach_partner(self._calls[cid], dest, ev.t)
            for cid in list(dest.calls):
                self._attach_partner(self._calls[cid], caller, ev.t)
        for rec in (dest, caller):
            if rec is not None:
                self._touch_channel(rec.channel)

    def _on_bridge(self, ev: BridgeUpdate) -> None:
        self._asterisk_seen = True
        uid = ev.channel.uniqueid
        members = self._bridges.setdefault(ev.bridge_id, set())
        if ev.entered:
            members.add(uid)
        else:
            members.discard(uid)
            if not members:
                del self._bridges[ev.bridge_id]
        rec = self._record(ev.channel, ev.t)
        if ev.entered:
            # A channel bridged with a call's agent leg (e.g. after an AMI Bridge) joins that call.
            for other in list(members - {uid}):
                other_rec = self._channels.get(other)
                if other_rec is not None:
                    for cid in list(other_rec.calls):
                        self._attach_partner(self._calls[cid], rec, ev.t)
        for cid in rec.calls:
            leg = self._leg(self._calls[cid], uid)
            if leg is not None:
                leg.bridge_id = ev.bridge_id if ev.entered else ""
        for member in members | {uid}:
            member_rec = self._channels.get(member)
            if member_rec is not None:
                self._touch_channel(member_rec.channel)
                for cid in member_rec.calls:
                    self._update_consulting(self._calls[cid])

    def _update_consulting(self, call: Call) -> None:
        # An Asterisk consult transfer (Atxfer) moves the agent into a bridge with the ";1" half of
        # the Local pair that dials the target; the target's own DN sees the ";2" half instead.
        side = call.asterisk
        agent = side.alive(Role.AGENT) if side is not None else None
        if side is None or agent is None:
            return
        members = self._bridges.get(agent.bridge_id, set()) if agent.bridge_id else set()
        side.consulting = any(
            (rec := self._channels.get(uid)) is not None and rec.channel.name.startswith("Local/")
            and rec.channel.name.endswith(";1") for uid in members)

    def _on_hold(self, ev: HoldUpdate) -> None:
        rec = self._record(ev.channel, ev.t)
        for cid in rec.calls:
            leg = self._leg(self._calls[cid], ev.channel.uniqueid)
            if leg is None:
                continue
            if ev.music:
                leg.moh = ev.held
            else:
                leg.held = ev.held
            self._touched[cid] = None

    def _on_hangup(self, ev: ChannelHangup) -> None:
        self._end_channel(ev.channel.uniqueid, ev.cause, ev.cause_txt, ev.t)

    def _on_transfer(self, ev: TransferUpdate) -> None:
        if ev.result != "Success" or ev.transferer is None:
            return
        rec = self._channels.get(ev.transferer.uniqueid)
        for cid in rec.calls if rec is not None else ():
            call = self._calls[cid]
            if call.asterisk is not None and self._leg(call, ev.transferer.uniqueid) is not None:
                call.asterisk.transfer = ev.kind
                self._touched[cid] = None

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
            self._resync = set()
        elif ev.status == "resync_end" and self._resync is not None:
            for uid in list(self._channels):
                if uid not in self._resync:
                    self._end_channel(uid, 0, "ended while the AMI link was down", ev.t)
            self._resync = None

    # ================================================================ Genesys events

    def _on_gws_call(self, ev: GwsCallUpdate) -> None:
        self._expect_genesys(ev.dn, True)
        self._apply_gws_call(ev.dn, ev.call, ev.t)

    def _apply_gws_call(self, dn: str, gc: GwsCall, t: float) -> None:
        if (dn, gc.id) in self._released:
            return
        cid = self._find_gws(dn, gc)
        if cid is None and gc.call_uuid:
            cid = self._by_uuid.get((dn, gc.call_uuid))
        if cid is None:
            cid = self._fallback(dn, t, want_genesys=False, numbers=(gc.ani, gc.dnis, *gc.participants),
                                 uuid=gc.call_uuid)
        if cid is None:
            if GenesysSide(gc).state is State.RELEASED:
                return  # the end of a call we never saw: nothing to show
            cid = self._new_call(dn, t).id
        call = self._calls[cid]
        if call.genesys is None:
            call.genesys = GenesysSide(gc)
        else:
            side = call.genesys
            if gc.previous_conn_id and gc.previous_conn_id not in side.previous_conn_ids:
                side.previous_conn_ids.append(gc.previous_conn_id)
            if side.call.conn_id and gc.conn_id and gc.conn_id != side.call.conn_id \
                    and side.call.conn_id not in side.previous_conn_ids:
                side.previous_conn_ids.append(side.call.conn_id)
            side.call = gc
        for key in (gc.id, gc.conn_id):
            if key:
                self._link(self._by_gws, (dn, key), cid)
        if gc.call_uuid:
            self._set_uuid(call, gc.call_uuid, t)
        if call.genesys.state is State.RELEASED and call.genesys.released_at is None:
            call.genesys.released_at = t
            _remember(self._released, (dn, gc.id))
        if call.parent_id is None:
            call.parent_id = self._parent_of(dn, gc, cid)
        self._touched[call.id] = None

    def _on_gws_snapshot(self, ev: GwsCallsSnapshot) -> None:
        self._expect_genesys(ev.dn, True)
        listed = set()
        for gc in ev.calls:
            self._apply_gws_call(ev.dn, gc, ev.t)
            cid = self._find_gws(ev.dn, gc)
            if cid is not None:
                listed.add(cid)
        for cid in list(self._dn_calls.get(ev.dn, ())):
            call = self._calls[cid]
            side = call.genesys
            if cid not in listed and side is not None and side.state is not State.RELEASED:
                side.call = _released(side.call)
                side.released_at = ev.t
                _remember(self._released, (ev.dn, side.call.id))
                self._touched[cid] = None

    def _on_gws_device(self, ev: GwsDeviceUpdate) -> None:
        self._expect_genesys(ev.dn, True)
        self.agent_states[ev.dn] = (ev.agent_state, ev.work_mode)

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

    def _attach_new(self, rec: _ChannelRecord, t: float) -> None:
        ch = rec.channel
        role, dn = self._classify(ch)
        if role is None or not dn:
            return  # a trunk leg dialled by an agent, or a Local channel: joins by Dial/Bridge
        uuid = ch.vars.get("CALLUUID", "")
        cid = self._by_uuid.get((dn, uuid)) if uuid else None
        if cid is None:
            cid = self._by_linkedid(dn, ch.linkedid)
        outbound = role is Role.AGENT and ch.state == 4  # the agent's browser is the caller
        if cid is None:
            number = ch.exten if outbound else ch.caller_num
            cid = self._fallback(dn, t, want_genesys=True, numbers=(number,), uuid=uuid)
        call = self._calls[cid] if cid is not None else self._new_call(dn, t)
        if call.asterisk is None:
            call.asterisk = AsteriskSide(linkedid=ch.linkedid, outbound=outbound, first_seen=t)
        self._add_leg(call, rec, role, t)

    def _attach_partner(self, call: Call, rec: _ChannelRecord, t: float) -> None:
        """``rec`` is connected to ``call`` (dialled, or bridged): join it if it is a trunk leg."""
        if call.id in rec.calls:
            return
        role, _ = self._classify(rec.channel)
        if role is not Role.TRUNK or call.asterisk is None:
            return
        self._add_leg(call, rec, role, t)

    def _add_leg(self, call: Call, rec: _ChannelRecord, role: Role, t: float) -> None:
        ch = rec.channel
        assert call.asterisk is not None
        leg = Leg(uniqueid=ch.uniqueid, name=ch.name, role=role, linkedid=ch.linkedid)
        leg.update(ch)
        for bridge_id, members in self._bridges.items():
            if ch.uniqueid in members:
                leg.bridge_id = bridge_id
        call.asterisk.legs[ch.uniqueid] = leg
        call.asterisk.gone_at = None
        rec.calls.add(call.id)
        self._learn_ids(call, ch, t)
        self._touched[call.id] = None

    def _by_linkedid(self, dn: str, linkedid: str) -> str | None:
        for cid in self._dn_calls.get(dn, ()):
            side = self._calls[cid].asterisk
            if side is not None and side.state() is not State.RELEASED and any(
                    leg.linkedid == linkedid or leg.uniqueid == linkedid for leg in side.legs.values()):
                return cid
        return None

    def _fallback(self, dn: str, t: float, *, want_genesys: bool, numbers: tuple[str, ...],
                  uuid: str) -> str | None:
        """A partner call on ``dn`` that has only the other side, by number and time."""
        best: tuple[float, str] | None = None
        for cid in self._dn_calls.get(dn, ()):
            call = self._calls[cid]
            if want_genesys:
                if call.asterisk is not None or call.genesys is None:
                    continue
                side_uuid = call.genesys.call.call_uuid
                theirs: tuple[str, ...] = (call.genesys.call.ani, call.genesys.call.dnis,
                                           *call.genesys.call.participants)
            else:
                if call.genesys is not None or call.asterisk is None:
                    continue
                side_uuid = call.call_uuid
                theirs = call.asterisk.remote()[:1]
            if uuid and side_uuid and uuid != side_uuid:
                continue
            gap = abs(t - call.created_at)
            if gap > self.settings.fallback_window:
                continue
            if not any(numbers_match(a, b) for a in numbers for b in theirs):
                continue
            if best is None or gap < best[0]:
                best = (gap, cid)
        return best[1] if best is not None else None

    def _learn_ids(self, call: Call, ch: Channel, t: float) -> bool:
        """Take the CallUUID / SIP Call-ID the channel carries; True when the call learnt one."""
        learnt = False
        uuid = ch.vars.get("CALLUUID", "")
        if uuid and (call.dn, uuid) not in self._by_uuid:
            self._set_uuid(call, uuid, t)
            learnt = True
        elif uuid and self._by_uuid[(call.dn, uuid)] != call.id:
            self._set_uuid(call, uuid, t)  # names another call: the two are merged
            learnt = True
        sip_call_id = ch.vars.get("SIPCALLID", "")
        if sip_call_id and not call.sip_call_id:
            call.sip_call_id = sip_call_id
            learnt = True
        return learnt

    def _set_uuid(self, call: Call, uuid: str, t: float) -> None:
        key = (call.dn, uuid)
        other_id = self._by_uuid.get(key)
        if other_id is not None and other_id != call.id and other_id in self._calls:
            other = self._calls[other_id]
            # Keep the call the agent has seen longest; the other one is folded into it.
            keep, gone = (other, call) if (other.created_at, other.id) <= (call.created_at, call.id) \
                else (call, other)
            self._merge(keep, gone, t)
            return
        self._link(self._by_uuid, key, call.id)
        if not call.call_uuid:
            call.call_uuid = uuid

    def _link(self, index: dict[tuple[str, str], str], key: tuple[str, str], cid: str) -> None:
        """Index ``key`` -> call, remembering it on the call so removing the call is O(its keys)."""
        if index.get(key) != cid:
            index[key] = cid
            self._keys.setdefault(cid, []).append((index, key))

    def _merge(self, keep: Call, gone: Call, t: float) -> None:
        """Two calls turned out to be the same interaction (the CallUUID arrived late)."""
        self.stats.merges += 1
        if keep.genesys is None:
            keep.genesys = gone.genesys
        if keep.asterisk is None:
            keep.asterisk = gone.asterisk
        elif gone.asterisk is not None:
            keep.asterisk.legs.update(gone.asterisk.legs)
        if gone.asterisk is not None:
            for uid in gone.asterisk.legs:
                rec = self._channels.get(uid)
                if rec is not None:
                    rec.calls.discard(gone.id)
                    rec.calls.add(keep.id)
        for index, key in self._keys.pop(gone.id, ()):
            if index.get(key) == gone.id:
                self._link(index, key, keep.id)
        keep.sip_call_id = keep.sip_call_id or gone.sip_call_id
        keep.call_uuid = keep.call_uuid or gone.call_uuid
        if keep.call_uuid:
            self._link(self._by_uuid, (keep.dn, keep.call_uuid), keep.id)
        self._drop(gone, t, merged_into=keep.id)
        self._touched[keep.id] = None

    # ================================================================ helpers

    def _record(self, ch: Channel, t: float) -> _ChannelRecord:
        rec = self._channels.get(ch.uniqueid)
        if rec is None and ch.uniqueid in self._ended:
            return _ChannelRecord(ch)  # a late event of a channel that is gone: attached to nothing
        if rec is None:
            rec = self._channels[ch.uniqueid] = _ChannelRecord(ch)
            self._attach_new(rec, t)
        else:
            rec.channel = ch
        return rec

    def _touch_channel(self, ch: Channel) -> None:
        rec = self._channels.get(ch.uniqueid)
        for cid in rec.calls if rec is not None else ():
            call = self._calls[cid]
            leg = self._leg(call, ch.uniqueid)
            if leg is not None:
                leg.update(ch)
            self._touched[cid] = None

    @staticmethod
    def _leg(call: Call, uid: str) -> Leg | None:
        return call.asterisk.legs.get(uid) if call.asterisk is not None else None

    def _end_channel(self, uid: str, cause: int, text: str, t: float) -> None:
        _remember(self._ended, uid)
        rec = self._channels.pop(uid, None)
        for members in self._bridges.values():
            members.discard(uid)
        if rec is None:
            return
        for cid in rec.calls:
            call = self._calls[cid]
            leg = self._leg(call, uid)
            if leg is not None and leg.alive:
                leg.alive = False
                leg.hangup_cause = cause
                leg.hangup_text = text
                leg.bridge_id = ""
                assert call.asterisk is not None
                if call.asterisk.state() is State.RELEASED and call.asterisk.gone_at is None:
                    call.asterisk.gone_at = t
            self._touched[cid] = None

    def _end_all_channels(self, t: float, why: str) -> None:
        for uid in list(self._channels):
            self._end_channel(uid, 0, why, t)
        self._bridges.clear()

    def _find_gws(self, dn: str, gc: GwsCall) -> str | None:
        for key in (gc.id, gc.previous_conn_id, gc.conn_id):
            if key:
                cid = self._by_gws.get((dn, key))
                if cid is not None and cid in self._calls:
                    return cid
        return None

    def _parent_of(self, dn: str, gc: GwsCall, cid: str) -> str | None:
        if gc.parent_conn_id:
            return self._by_gws.get((dn, gc.parent_conn_id))
        if gc.call_type == "Consult":  # v2 has no parent field: the DN's held call is the parent
            for other in reversed(self._dn_calls.get(dn, [])):
                side = self._calls[other].genesys
                if other != cid and side is not None and side.state is State.HELD:
                    return other
        return None

    def _new_call(self, dn: str, t: float) -> Call:
        n = self._counters.get(dn, 0) + 1
        self._counters[dn] = n
        call = Call(id=f"{dn}-{n}", dn=dn, created_at=t, state_since=t)
        self._calls[call.id] = call
        self._dn_calls.setdefault(dn, []).append(call.id)
        return call

    def _lingered(self, call: Call, now: float) -> bool:
        # Only a Genesys side may outlive its audio leg (its session may be gone for good); a
        # channel still up on Asterisk is real and stays.
        gone_at = call.asterisk.gone_at if call.asterisk is not None else None
        return gone_at is not None and now - gone_at >= self.settings.linger

    # ================================================================ output

    def _flush(self, t: float) -> list[Delta]:
        touched, self._touched = self._touched, {}
        for cid in touched:
            call = self._calls.get(cid)
            if call is not None:
                self._dirty[cid] = call.dn
        for cid in touched:
            call = self._calls.get(cid)
            if call is not None:
                self._refresh(call, t)
        out, self._out = self._out, []
        return out

    def _refresh(self, call: Call, t: float) -> None:
        state = call.unified_state()
        if state is not call.state or call.emitted is None:
            if state is not call.state:
                call.state_since = t
            call.state = state
        self._evaluate_sync(call, t)
        if call.finished() or self._lingered(call, t):
            self._drop(call, t)
            return
        view = call.view()
        if view != call.emitted:
            self._emit(call, Op.CREATED if call.emitted is None else Op.UPDATED, view, t)

    def _evaluate_sync(self, call: Call, t: float) -> None:
        g, a = call.genesys_state(), call.asterisk_state()
        sync = call.sync
        if divergence.agree(g, a, call.dn in self._genesys_dns, self._asterisk_seen):
            if sync.status != "ok":
                call.sync = Sync(status="ok", since=t)
            return
        rule = divergence.classify(call)
        if sync.disagree_since is None or sync.rule != rule.id:
            call.sync = Sync("pending", rule.id, rule.detail, t, t)
            sync = call.sync
        assert sync.disagree_since is not None
        if sync.status == "pending" and t - sync.disagree_since >= self.settings.grace:
            sync.status, sync.since = "diverged", t
            self.stats.divergences[rule.id] += 1
            if divergence.repair_wanted(rule, call, self.settings.repairs):
                self._request_repair(call, rule, t)

    def _request_repair(self, call: Call, rule: divergence.Rule, t: float) -> None:
        assert rule.repair is not None
        view = call.view()
        step: AmiOp | GwsOp | str
        if rule.repair == "gws_hangup":
            assert call.genesys is not None
            step = GwsOp(call.dn, call.genesys.call.id, "Hangup")
        else:
            step = ami_step(view, rule.repair.removeprefix("ami_"))
        if isinstance(step, str):
            return
        call.pending_ops[rule.repair] = t + self.settings.operation_timeout
        call.agent_hold = False
        self._repairs.append(Repair(call.id, call.dn, rule.id, step, t))

    def _emit(self, call: Call, op: Op, view: dict[str, Any], t: float) -> None:
        seq = self._seqs.get(call.dn, 0) + 1
        self._seqs[call.dn] = seq
        call.emitted = view
        self.stats.deltas += 1
        self._out.append(Delta(call.dn, seq, op, view, t))

    def _drop(self, call: Call, t: float, merged_into: str | None = None) -> None:
        """Remove a finished (or merged) call; its last view goes out with the ``removed`` delta."""
        del self._calls[call.id]
        self._dirty[call.id] = call.dn
        self._dn_calls[call.dn].remove(call.id)
        if not self._dn_calls[call.dn]:
            del self._dn_calls[call.dn]
        if call.asterisk is not None:
            for uid in call.asterisk.legs:
                rec = self._channels.get(uid)
                if rec is not None:
                    rec.calls.discard(call.id)
        for index, key in self._keys.pop(call.id, ()):
            if index.get(key) == call.id:
                del index[key]
        if call.emitted is None:
            return  # never shown: nothing to take back
        call.state = State.RELEASED if merged_into is None else call.state
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
        meta = self._meta(self._seqs.keys() | self._counters.keys())
        meta["genesys_dns"] = sorted(self._genesys_dns)
        return {"version": STATE_VERSION, "meta": meta,
                "calls": {cid: dump_call(c) for cid, c in self._calls.items()}}

    def export_changes(self) -> dict[str, Any]:
        """What changed since the last export: the calls touched (``None`` = removed) and the
        small global part. Cheap per event, unlike a full export with many live calls."""
        dirty, self._dirty = self._dirty, {}
        calls = {cid: (dump_call(self._calls[cid]) if cid in self._calls else None) for cid in dirty}
        meta = self._meta(set(dirty.values()))
        if self._genesys_dns_changed:
            meta["genesys_dns"] = sorted(self._genesys_dns)
            self._genesys_dns_changed = False
        return {"version": STATE_VERSION, "meta": meta, "calls": calls}

    def _meta(self, dns: Iterable[str]) -> dict[str, Any]:
        """The global part for ``dns`` only: a DN's sequence and counter change with its calls."""
        return {"seqs": {dn: self._seqs[dn] for dn in dns if dn in self._seqs},
                "counters": {dn: self._counters[dn] for dn in dns if dn in self._counters},
                "asterisk_seen": self._asterisk_seen, "boot_time": self._boot_time}

    @classmethod
    def restore(cls, state: dict[str, Any], settings: CorrelatorSettings | None = None) -> Correlator:
        """A correlator that continues from ``export_state`` (merged with later changes). Channels
        not attached to any call are not kept; the AMI resync after the takeover lists them."""
        self = cls(settings)
        if state.get("version") != STATE_VERSION:
            return self
        for data in state["calls"].values():
            call = load_call(data)
            self._calls[call.id] = call
            self._dn_calls.setdefault(call.dn, []).append(call.id)
            if call.call_uuid:
                self._link(self._by_uuid, (call.dn, call.call_uuid), call.id)
            if call.genesys is not None:
                for key in (call.genesys.call.id, call.genesys.call.conn_id,
                            *call.genesys.previous_conn_ids):
                    if key:
                        self._link(self._by_gws, (call.dn, key), call.id)
            for leg in call.asterisk.legs.values() if call.asterisk is not None else ():
                if leg.alive:
                    rec = self._channels.setdefault(leg.uniqueid, _ChannelRecord(leg.channel()))
                    rec.calls.add(call.id)
                    if leg.bridge_id:
                        self._bridges.setdefault(leg.bridge_id, set()).add(leg.uniqueid)
        meta = state["meta"]
        self._seqs = dict(meta["seqs"])
        self._counters = dict(meta["counters"])
        self._genesys_dns = set(meta["genesys_dns"])
        self._asterisk_seen = bool(meta["asterisk_seen"])
        self._boot_time = meta["boot_time"]
        return self


def _remember(memory: dict[Any, None], key: Any) -> None:
    memory[key] = None
    if len(memory) > ENDED_MEMORY:
        del memory[next(iter(memory))]


def _released(gc: GwsCall) -> GwsCall:
    return GwsCall(gc.id, "Released", gc.call_uuid, gc.conn_id, gc.previous_conn_id, gc.parent_conn_id,
                   gc.call_type, (), gc.participants, gc.ani, gc.dnis, gc.user_data, gc.duration)


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
