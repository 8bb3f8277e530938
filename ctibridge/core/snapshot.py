"""The correlator's calls as JSON-able dicts, so a restarted bridge continues where it stopped."""

from __future__ import annotations

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
