"""ChannelTable: records, bridge membership kept both ways, ended channels, resync listing."""

from __future__ import annotations

from ctibridge.core.channels import ENDED_MEMORY, ChannelTable
from ctibridge.core.events import Channel


def chan(uid: str) -> Channel:
    return Channel(uid, uid, f"PJSIP/5001-{uid}", 6)


def test_upsert_keeps_one_record_with_the_latest_block() -> None:
    table = ChannelTable()
    rec, new = table.upsert(chan("1"))
    again, new_again = table.upsert(Channel("1", "1", "PJSIP/5001-1", 4))
    assert new and not new_again and again is rec and rec.channel.state == 4


def test_a_channel_is_in_one_bridge_at_a_time() -> None:
    table = ChannelTable()
    for uid in ("1", "2", "3"):
        table.upsert(chan(uid))
    table.enter("1", "b1")
    table.enter("2", "b1")
    assert table.members("b1") == {"1", "2"}
    assert [r.channel.uniqueid for r in table.bridged_with("1")] == ["2"]
    table.enter("2", "b2")  # moved without a BridgeLeave seen first
    assert table.members("b1") == {"1"} and table.bridge_of("2") == "b2"
    table.leave("1")
    assert table.members("b1") == set() and table.bridge_of("1") == ""


def test_an_ended_channel_leaves_its_bridge_and_is_remembered() -> None:
    table = ChannelTable()
    table.upsert(chan("1"))
    table.enter("1", "b1")
    assert table.end("1") is not None
    assert table.ended("1") and table.get("1") is None and table.members("b1") == set()
    assert table.end("1") is None  # twice: nothing left to end
    for n in range(ENDED_MEMORY):
        table.end(f"x{n}")
    assert not table.ended("1")  # the memory is bounded, oldest first


def test_resync_returns_the_channels_it_did_not_list() -> None:
    table = ChannelTable()
    for uid in ("1", "2"):
        table.upsert(chan(uid))
    assert table.end_resync() == []  # no resync running
    table.begin_resync()
    table.listed("2")
    assert table.end_resync() == ["1"]
