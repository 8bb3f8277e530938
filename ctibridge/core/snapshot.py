"""The correlator's calls as JSON-able dicts, so a restarted bridge continues where it stopped.

A state is ``{"version", "meta", "calls"}``: ``meta`` is the correlator's small global part (per-DN
sequences and counters, which DNs expect Genesys, the Asterisk boot time), ``calls`` maps a call id
to ``dump_call`` of it. A full state is written at takeover; after each event only the calls that
changed go out (``changes``), and ``merge_state`` folds them into the full one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from ctibridge.core.events import GwsCall
from ctibridge.core.model import AsteriskSide, Call, GenesysSide, Leg, Role, State, Sync


def _plain(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.name not in skip}


def dump_call(call: Call) -> dict[str, Any]:
    data = _plain(call, skip=("genesys", "asterisk", "sync", "state", "pending_ops"))
    data["state"] = call.state.value
    data["pending_ops"] = dict(call.pending_ops)  # fresh containers only: the caller may keep them
    data["sync"] = _plain(call.sync)
    if call.genesys is not None:
        gc = _plain(call.genesys.call)
        gc["capabilities"] = list(gc["capabilities"])
        gc["participants"] = list(gc["participants"])
        gc["user_data"] = dict(gc["user_data"])
        data["genesys"] = {"call": gc, "previous_conn_ids": list(call.genesys.previous_conn_ids),
                           "released_at": call.genesys.released_at}
    if call.asterisk is not None:
        side = _plain(call.asterisk, skip=("legs",))
        side["legs"] = [dict(_plain(leg), role=leg.role.value) for leg in call.asterisk.legs.values()]
        data["asterisk"] = side
    return data


STATE_VERSION = 2


def full_state(calls: Iterable[Call], meta: dict[str, Any]) -> dict[str, Any]:
    return {"version": STATE_VERSION, "meta": meta, "calls": {call.id: dump_call(call) for call in calls}}


def changes(changed: Mapping[str, Call | None], meta: dict[str, Any]) -> dict[str, Any]:
    """The calls that changed, as they are now (``None``: removed)."""
    calls = {cid: (dump_call(call) if call is not None else None) for cid, call in changed.items()}
    return {"version": STATE_VERSION, "meta": meta, "calls": calls}


def load_state(state: Mapping[str, Any]) -> tuple[list[Call], dict[str, Any]] | None:
    """The calls and meta of a state this version wrote; ``None`` for any other version."""
    if state.get("version") != STATE_VERSION:
        return None
    return [load_call(data) for data in state["calls"].values()], dict(state["meta"])


def merge_state(full: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Fold ``Correlator.export_changes()`` into a state from ``export_state()`` (in place)."""
    if full is None or full.get("version") != changes.get("version"):
        full = {"version": changes.get("version"), "meta": {}, "calls": {}}
    meta = full["meta"]
    for key, value in changes["meta"].items():
        if key in ("seqs", "counters"):  # per DN: only the DNs that changed are sent
            meta.setdefault(key, {}).update(value)
        else:
            meta[key] = value
    calls = full["calls"]
    for cid, data in changes["calls"].items():
        if data is None:
            calls.pop(cid, None)
        else:
            calls[cid] = data
    return full


def load_call(data: dict[str, Any]) -> Call:
    data = dict(data)
    genesys = data.pop("genesys", None)
    asterisk = data.pop("asterisk", None)
    call = Call(**{**data, "state": State(data["state"]), "sync": Sync(**data["sync"])})
    if genesys is not None:
        gc = dict(genesys["call"])
        gc["capabilities"] = tuple(gc["capabilities"])
        gc["participants"] = tuple(gc["participants"])
        call.genesys = GenesysSide(GwsCall(**gc), list(genesys["previous_conn_ids"]), genesys["released_at"])
    if asterisk is not None:
        legs = {leg["uniqueid"]: Leg(**{**leg, "role": Role(leg["role"])}) for leg in asterisk.pop("legs")}
        call.asterisk = AsteriskSide(legs=legs, **asterisk)
    return call
