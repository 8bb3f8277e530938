"""CallIndex: calls per DN, keys linked and unlinked in one place, one-sided fallback candidates."""

from __future__ import annotations

from ctibridge.core.call_index import CallIndex, Key, Side
from ctibridge.core.events import GwsCall
from ctibridge.core.model import AsteriskSide, GenesysSide


def test_new_calls_are_numbered_per_dn_and_listed_in_order() -> None:
    index = CallIndex()
    a, b, c = index.new("5001", 0.0), index.new("5002", 0.1), index.new("5001", 0.2)
    assert (a.id, b.id, c.id) == ("5001-1", "5002-1", "5001-2")
    assert index.of_dn("5001") == [a, c] and len(index) == 3
    index.remove(a)
    assert index.of_dn("5001") == [c] and index.get("5001-1") is None
    assert index.new("5001", 0.3).id == "5001-3"  # numbers are never reused


def test_keys_are_per_dn_and_go_with_the_call() -> None:
    index = CallIndex()
    call = index.new("5001", 0.0)
    index.link(Key.UUID, "5001", "U1", call)
    index.link(Key.GWS, "5001", "c1", call)
    index.link(Key.GWS, "5001", "", call)  # an empty value names nothing
    assert index.find(Key.UUID, "5001", "U1") is call
    assert index.find(Key.UUID, "5002", "U1") is None and index.find(Key.GWS, "5001", "U1") is None
    assert index.find(Key.GWS, "5001", "") is None
    index.remove(call)
    assert index.find(Key.UUID, "5001", "U1") is None and index.find(Key.GWS, "5001", "c1") is None


def test_fold_moves_every_key_of_the_gone_call() -> None:
    index = CallIndex()
    keep, gone = index.new("5001", 0.0), index.new("5001", 0.1)
    index.link(Key.GWS, "5001", "c1", gone)
    index.link(Key.LINKEDID, "5001", "1.0", gone)
    index.fold(gone, keep)
    index.remove(gone)
    assert index.find(Key.GWS, "5001", "c1") is keep and index.find(Key.LINKEDID, "5001", "1.0") is keep


def test_one_sided_candidates_follow_the_sides_and_age_out() -> None:
    index = CallIndex()
    genesys_only = index.new("5001", 0.0)
    genesys_only.genesys = GenesysSide(GwsCall("g1", "Dialing"))
    index.sides_changed(genesys_only)
    asterisk_only = index.new("5001", 1.0)
    asterisk_only.asterisk = AsteriskSide()
    index.sides_changed(asterisk_only)
    assert index.one_sided("5001", Side.GENESYS, since=0.0) == [genesys_only]
    assert index.one_sided("5001", Side.ASTERISK, since=0.0) == [asterisk_only]
    asterisk_only.genesys = GenesysSide(GwsCall("g2", "Established"))
    index.sides_changed(asterisk_only)  # both sides now: no longer a candidate
    assert index.one_sided("5001", Side.ASTERISK, since=0.0) == []
    assert index.one_sided("5001", Side.GENESYS, since=0.5) == []  # too old: dropped for good
    assert index.one_sided("5001", Side.GENESYS, since=0.0) == []


def test_fallback_numbers_match_by_digits_and_a_suffix_of_at_least_four() -> None:
    from ctibridge.core.fallback import numbers_match

    assert numbers_match("+1 (555) 000-1000", "15550001000")
    assert numbers_match("611223344", "+33611223344")  # a suffix of the international form
    assert not numbers_match("344", "0611223344")  # too short to be a suffix match
    assert not numbers_match("", "5002") and not numbers_match("5002", "5003")
