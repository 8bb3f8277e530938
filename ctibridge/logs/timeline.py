"""Per-call timelines: what Genesys said, what Asterisk said, what the bridge did and what the widget
got, on one time axis, as one self-contained HTML page (no scripts, no external assets).

``render_timeline(records, deltas, call_id=None)``: ``records`` are event-log records (a replayed
log, or the live service's event log), ``deltas`` the core's deltas for them (from ``replay``).
Without ``call_id`` every call gets its own ladder. Divergences (a call's ``sync`` leaving ``ok``)
are marked on the widget lane and the whole row.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ctibridge.core import dialplan
from ctibridge.core.deltas import Delta
from ctibridge.logs.eventlog import Record

LANES = ("genesys", "asterisk", "bridge", "widget")
LANE_TITLES = {
    "genesys": "Genesys (GWS)",
    "asterisk": "Asterisk (AMI)",
    "bridge": "Bridge actions",
    "widget": "Widget deltas",
}
AMI_ID_KEYS = ("Uniqueid", "Linkedid")  # with any prefix: DestUniqueid, TransfereeLinkedid, ...
AMI_CHANNEL_KEYS = ("Channel", "ExtraChannel", "Channel1", "Channel2")
# AMI traffic a reader of a ladder does not need (the event log keeps it all).
AMI_NOISE = frozenset(
    {
        "TestEvent",
        "DeviceStateChange",
        "RTCPSent",
        "RTCPReceived",
        "SuccessfulAuth",
        "NewCallerid",
        "NewConnectedLine",
        "SoftHangupRequest",
    }
)
TRACKED_VARS = frozenset({*dialplan.TRACKED_VARS, *map(dialplan.inherited, dialplan.TRACKED_VARS)})
HOLD_CONTEXTS = (dialplan.HOLD_CONTEXT, dialplan.TRANSFER_CONTEXT)


@dataclass(frozen=True, slots=True)
class Row:
    t: float
    lane: str
    label: str
    detail: str = ""
    divergence: str = ""  # the rule, when this row marks a divergence


GWS_ID_KEYS = frozenset({"id", "callUuid", "connId", "previousConnId"})


def call_keys(view: dict[str, Any]) -> set[str]:
    """Every identifier a call view knows the call by: Uniqueids, Linkedid, channel names, the
    Genesys call id, CallUUID and connection ids (prefixed by kind, so they cannot collide)."""
    keys: set[str] = set()
    asterisk = view.get("asterisk") or {}
    if asterisk.get("linkedid"):
        keys.add(f"ami:{asterisk['linkedid']}")
    for leg in asterisk.get("channels", ()):
        keys |= {f"ami:{leg.get('uniqueid', '')}", f"chan:{leg.get('name', '')}"}
    genesys = view.get("genesys") or {}
    ids = [
        genesys.get("call_id"),
        genesys.get("conn_id"),
        *genesys.get("previous_conn_ids", ()),
        view.get("call_uuid"),
    ]
    keys |= {f"gws:{i}" for i in ids if i}
    return keys


def _gws_ids(value: Any) -> Iterable[str]:
    """The call identifiers anywhere in a GWS message (its call, or a REST re-read's calls)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in GWS_ID_KEYS and isinstance(item, str) and item:
                yield item
            else:
                yield from _gws_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _gws_ids(item)


def record_keys(record: Record) -> set[str]:
    msg = record.msg
    if record.src == "ami":
        if _ami_noise(msg):
            return set()
        ids = {f"ami:{v}" for k, v in msg.items() if k.endswith(AMI_ID_KEYS)}
        return ids | {f"chan:{msg[k]}" for k in AMI_CHANNEL_KEYS if msg.get(k)}
    if record.src == "gws":
        return {f"gws:{i}" for i in _gws_ids(msg)}
    return set()


def _ami_noise(msg: dict[str, Any]) -> bool:
    event = msg.get("Event")
    if event == "VarSet":
        return msg.get("Variable") not in TRACKED_VARS
    if event == "Newexten":
        return not str(msg.get("Context", "")).startswith(HOLD_CONTEXTS)
    return event in AMI_NOISE


def is_link(record: Record) -> bool:
    return record.dir == "meta" or any(k in record.msg for k in ("_link", "_meta", "link"))


def _ami_label(msg: dict[str, Any]) -> tuple[str, str]:
    if "Action" in msg:
        name = str(msg["Action"])
        detail = " ".join(
            f"{k}={msg[k]}"
            for k in ("Channel", "ExtraChannel", "Channel1", "Channel2", "Context", "Exten", "Digit")
            if msg.get(k)
        )
        return name, detail
    name = str(msg.get("Event") or msg.get("Response") or "?")
    parts = [str(msg.get("Channel", "")), str(msg.get("ChannelStateDesc", ""))]
    if name == "VarSet":
        parts.append(f"{msg.get('Variable')}={msg.get('Value')}")
    if name in ("Newexten", "Newchannel"):
        parts.append(f"{msg.get('Context')},{msg.get('Exten')}")
    for key in ("DialStatus", "Cause-txt", "Result", "Message"):
        if msg.get(key):
            parts.append(str(msg[key]))
    return name, " ".join(p for p in parts if p)


def _gws_label(msg: dict[str, Any]) -> tuple[str, str]:
    if "rest" in msg:
        return f"REST re-read {msg['rest']}", f"dn {msg.get('dn', '')}"
    if "operationName" in msg or "operation" in msg:
        return str(msg.get("operationName") or msg.get("operation")), str(msg.get("call_id", ""))
    data = msg.get("data") or {}
    call = data.get("call") or {}
    name = str(data.get("notificationType") or data.get("messageType") or msg.get("channel", "?"))
    return name, " ".join(str(x) for x in (call.get("state", ""), call.get("callType", "")) if x)


def record_row(record: Record) -> Row:
    t = record.t
    msg = record.msg
    if is_link(record):
        lane = "asterisk" if record.src == "ami" or "ami" in str(msg.get("link", record.conn)) else "genesys"
        status = msg.get("status") or msg.get("_link") or msg.get("_meta") or ""
        return Row(t, lane, f"link {status}", record.conn)
    if record.dir == "out":
        label, detail = _ami_label(msg) if record.src == "ami" else _gws_label(msg)
        return Row(t, "bridge", label, detail)
    label, detail = _ami_label(msg) if record.src == "ami" else _gws_label(msg)
    return Row(t, "asterisk" if record.src == "ami" else "genesys", label, detail)


def delta_row(delta: Delta) -> Row:
    call = delta.call
    sync = call.get("sync") or {}
    sides = " ".join(
        f"{side[0].upper()}:{(call.get(side) or {}).get('state', '-')}" for side in ("genesys", "asterisk")
    )
    rule = str(sync.get("rule") or "") if sync.get("status") in ("pending", "diverged") else ""
    label = f"#{delta.seq} {delta.op.value} {call.get('state')}"
    detail = f"{sides} sync {sync.get('status')}" + (f" ({rule})" if rule else "")
    return Row(
        delta.t, "widget", label, detail, divergence=rule if sync.get("status") == "diverged" else ""
    )


def ladders(records: Sequence[Record], deltas: Sequence[Delta]) -> dict[str, list[Row]]:
    """Every call's ladder rows, in time order, times relative to the call's first row. One pass
    over the records whatever the number of calls (long logs)."""
    by_call: dict[str, list[Delta]] = {}
    for delta in deltas:
        by_call.setdefault(str(delta.call.get("id")), []).append(delta)
    owners: dict[str, set[str]] = {}  # identifier -> calls known by it
    for call_id, mine in by_call.items():
        for delta in mine:
            for key in call_keys(delta.call):
                owners.setdefault(key, set()).add(call_id)
    matched: dict[str, list[Record]] = {call_id: [] for call_id in by_call}
    links: list[Record] = []
    for record in records:
        if is_link(record):
            links.append(record)
            continue
        for call_id in set().union(*(owners.get(key, ()) for key in record_keys(record))):
            matched[call_id].append(record)
    return {call_id: ladder_rows(matched[call_id], links, mine) for call_id, mine in by_call.items()}


def ladder_rows(matched: Sequence[Record], links: Iterable[Record], mine: Sequence[Delta]) -> list[Row]:
    rows = [record_row(r) for r in matched] + [delta_row(d) for d in mine]
    return relative(rows, links)


def relative(rows: Sequence[Row], links: Iterable[Record]) -> list[Row]:
    """A call's rows (absolute times) with the link changes while it lived, in order, times
    relative to its first row."""
    start, end = min(r.t for r in rows), max(r.t for r in rows)
    around = [record_row(r) for r in links if start <= r.t <= end]
    out = [replace(r, t=r.t - start) for r in [*rows, *around]]
    out.sort(key=lambda row: (row.t, LANES.index(row.lane)))
    return out


STYLE = """
body{font:13px/1.35 system-ui,sans-serif;margin:16px;color:#1d2330;background:#fff}
h1{font-size:18px;margin:0 0 4px} h2{font-size:15px;margin:28px 0 6px}
.meta{color:#5a6272;margin-bottom:8px}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th{position:sticky;top:0;background:#eef1f6;text-align:left;padding:6px;border-bottom:2px solid #c9d0dc}
td{padding:2px 6px;vertical-align:top;border-left:2px solid #dfe4ec;white-space:nowrap;overflow:hidden;
text-overflow:ellipsis}
.t{width:70px;color:#5a6272;font-variant-numeric:tabular-nums;border-left:0;text-align:right}
.ev{display:inline-block;border-radius:4px;padding:1px 6px;font-weight:600}
.d{color:#5a6272;font-size:11px;margin-left:6px}
.genesys .ev{background:#e3efff;color:#0b4a9c} .asterisk .ev{background:#fff0dc;color:#8a4b00}
.bridge .ev{background:#e9f7ec;color:#17672e} .widget .ev{background:#f1e9fb;color:#5b2a8e}
tr.div td{background:#fdecec} tr.div .widget .ev{background:#c62828;color:#fff}
.legend span{margin-right:14px}
"""


def _ladder(rows: list[Row]) -> str:
    head = (
        "<tr><th class='t'>t (s)</th>" + "".join(f"<th>{LANE_TITLES[lane]}</th>" for lane in LANES) + "</tr>"
    )
    body = []
    for row in rows:
        cells = []
        for lane in LANES:
            if lane == row.lane:
                mark = f" DIVERGED: {html.escape(row.divergence)}" if row.divergence else ""
                cells.append(
                    f"<td class='{lane}'><span class='ev'>{html.escape(row.label)}{mark}</span>"
                    f"<span class='d'>{html.escape(row.detail)}</span></td>"
                )
            else:
                cells.append(f"<td class='{lane}'></td>")
        css = " class='div'" if row.divergence else ""
        body.append(f"<tr{css}><td class='t'>+{row.t:.3f}</td>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


@dataclass(frozen=True, slots=True)
class Ladder:
    call_id: str
    rows: list[Row]
    view: dict[str, Any]  # the call's fullest (last) view
    truncated: int = 0  # rows left out to keep the ladder bounded


def render_timeline(
    records: Iterable[Record],
    deltas: Sequence[Delta],
    call_id: str | None = None,
    title: str = "ctibridge call timeline",
) -> str:
    """A self-contained HTML page: one ladder per call (or only ``call_id``'s)."""
    if call_id is not None:
        deltas = [d for d in deltas if d.call.get("id") == call_id]
    views = {str(d.call.get("id")): d.call for d in deltas}  # the last view of each call wins
    return render_ladders(
        [Ladder(cid, rows, views[cid]) for cid, rows in ladders(list(records), deltas).items()], title)


def render_ladders(calls: Sequence[Ladder], title: str) -> str:
    sections = []
    for ladder in calls:
        view, rows = ladder.view, ladder.rows
        diverged = sorted({r.divergence for r in rows if r.divergence})
        meta = (
            f"DN {view.get('dn')} · {view.get('direction')} · CallUUID {view.get('call_uuid') or '-'} · "
            f"{len(rows)} rows" + (f" · diverged: {', '.join(diverged)}" if diverged else "")
            + (f" · {ladder.truncated} later rows left out" if ladder.truncated else "")
        )
        sections.append(
            f"<h2>Call {html.escape(ladder.call_id)}</h2><div class='meta'>{html.escape(meta)}</div>"
            + _ladder(rows)
        )
    body = "".join(sections) or "<p>No call in these records.</p>"
    legend = "".join(
        f"<span class='{lane}'><span class='ev'>{LANE_TITLES[lane]}</span></span>" for lane in LANES
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<div class='legend'>{legend}</div>{body}</body></html>"
    )
