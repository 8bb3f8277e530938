"""The fallback match for calls without a CallUUID (outbound calls from the browser, a dialplan
without the header capture): a call that has only the other side, on the same DN, whose far
party's number matches (digits, a suffix of at least 4) and that was first seen within the window;
the nearest in time wins."""

from __future__ import annotations

from collections.abc import Iterable

from ctibridge.core.model import Call


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


def identity(call: Call) -> tuple[str, tuple[str, ...]]:
    """The CallUUID and the numbers of the one side a candidate has."""
    if call.genesys is not None:
        gc = call.genesys.call
        return gc.call_uuid, (gc.ani, gc.dnis, *gc.participants)
    assert call.asterisk is not None
    return call.call_uuid, call.asterisk.remote()[:1]


def nearest(candidates: Iterable[Call], t: float, numbers: tuple[str, ...], uuid: str,
            window: float) -> Call | None:
    """The candidate nearest to ``t`` whose numbers match and whose CallUUID does not contradict."""
    best: tuple[float, Call] | None = None
    for call in candidates:
        their_uuid, theirs = identity(call)
        gap = abs(t - call.created_at)
        if (uuid and their_uuid and uuid != their_uuid) or gap > window:
            continue
        if any(numbers_match(a, b) for a in numbers for b in theirs) and (best is None or gap < best[0]):
            best = (gap, call)
    return best[1] if best is not None else None
