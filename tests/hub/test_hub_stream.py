"""The widget stream: snapshot, ordered deltas, resume without gap or duplicate (both stores)."""

from __future__ import annotations

import itertools

from callviews import DeltaStream, replay
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from widget_rig import Widget

from ctibridge.hub.protocol import CallView


async def read_deltas(widget: Widget, up_to: int) -> list[dict]:
    frames = []
    while not frames or frames[-1]["seq"] < up_to:
        frame = await widget.recv()
        assert frame["type"] == "delta", frame
        frames.append(frame)
    return frames


async def test_snapshot_then_ordered_deltas(bridge, session):
    b = await bridge()
    stream = DeltaStream("5001", seed=3)
    await b.feed(stream.take(6), batch=2)
    other = DeltaStream("5002")
    await b.feed(other.take(3))

    widget = Widget(session, b.url)
    snapshot = await widget.hello()
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 6 and snapshot["epoch"] == b.store.epoch
    view = {c["id"]: c for c in snapshot["calls"]}
    assert view == stream.live
    for call in snapshot["calls"]:
        CallView.model_validate(call)

    live = stream.take(10)
    await b.feed(live, batch=3)
    await b.feed(other.take(3))  # another DN's deltas never reach this widget
    frames = await read_deltas(widget, 16)
    assert [f["seq"] for f in frames] == list(range(7, 17))
    assert {f["dn"] for f in frames} == {"5001"}
    replay(view, frames)
    assert view == stream.live


async def test_owner_that_publishes_and_follows_sends_each_delta_once(bridge, session):
    b = await bridge(follow=True, send_queue=4)
    stream = DeltaStream("5001")
    widget = Widget(session, b.url)
    await widget.hello()
    deltas = stream.take(30)
    for i in range(0, 30, 3):
        await b.feed(deltas[i:i + 3], batch=3)
        assert [(await widget.recv())["seq"] for _ in range(3)] == [i + 1, i + 2, i + 3]
    assert b.hub.stats.slow_consumers == 0


async def test_reconnect_with_last_seq_gets_exactly_the_missed_deltas(bridge, session):
    b = await bridge()
    stream = DeltaStream("5001")
    widget = Widget(session, b.url)
    first = await widget.hello()
    await b.feed(stream.take(5))
    seen = await read_deltas(widget, 5)
    await widget.close()
    missed = stream.take(7)
    await b.feed(missed, batch=2)

    again = Widget(session, b.url)
    resume = await again.hello(since=(first["epoch"], seen[-1]["seq"]))
    assert resume == {"type": "resume", "dn": "5001", "epoch": first["epoch"], "from_seq": 6}
    frames = await read_deltas(again, 12)
    assert frames == [d.message() for d in missed]
    await b.feed(stream.take(1))
    assert (await again.recv())["seq"] == 13


async def test_too_old_since_or_other_epoch_gets_a_snapshot(bridge, session):
    b = await bridge(log_length=5)
    stream = DeltaStream("5001")
    await b.feed(stream.take(20))
    epoch = b.store.epoch
    for since in ((epoch, 3), ("an-old-epoch", 18), (epoch, 25)):
        widget = Widget(session, b.url)
        snapshot = await widget.hello(since=since)
        assert snapshot["type"] == "snapshot" and snapshot["seq"] == 20, since
        assert {c["id"]: c for c in snapshot["calls"]} == stream.live
        await widget.close()
    up_to_date = Widget(session, b.url)
    assert await up_to_date.hello(since=(epoch, 20)) == {
        "type": "resume", "dn": "5001", "epoch": epoch, "from_seq": 21}


async def test_a_gap_in_the_live_stream_closes_1012_and_the_widget_resumes(bridge, session):
    b = await bridge()
    stream = DeltaStream("5001")
    widget = Widget(session, b.url)
    epoch = (await widget.hello())["epoch"]
    deltas = stream.take(3)
    await b.store.append(deltas)
    b.hub.publish([deltas[0], deltas[2]])  # e.g. a follower whose subscription dropped one
    assert (await widget.recv())["seq"] == 1
    assert await widget.closed_with() == 1012
    assert b.hub.stats.gaps == 1
    again = Widget(session, b.url)
    assert (await again.hello(since=(epoch, 1)))["from_seq"] == 2
    assert [(await again.recv())["seq"] for _ in range(2)] == [2, 3]


_dns = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 8)), min_size=1, max_size=8))
async def test_random_disconnects_never_lose_or_repeat_a_delta(bridge, session, plan):
    """Each step: publish ``fed`` deltas, read ``read`` frames, then drop the connection and
    resume with the last seq read. The concatenation of what the widget read is 1..N."""
    b = await bridge()
    stream = DeltaStream(f"7{next(_dns)}", seed=len(plan))
    widget = Widget(session, b.url, stream.dn)
    snapshot = await widget.hello()
    assert snapshot["seq"] == 0
    read: list[dict] = []
    for fed, to_read in plan:
        await b.feed(stream.take(fed), batch=2)
        for _ in range(min(to_read, stream.seq - len(read))):
            read.append(await widget.recv())
        await widget.close()
        widget = Widget(session, b.url, stream.dn)
        last = read[-1]["seq"] if read else 0
        resume = await widget.hello(since=(snapshot["epoch"], last))
        assert resume["type"] == "resume" and resume["from_seq"] == last + 1
    if stream.seq > len(read):
        read += await read_deltas(widget, stream.seq)
    await widget.close()
    assert [f["seq"] for f in read] == list(range(1, stream.seq + 1))
    view: dict = {}
    replay(view, read)
    assert view == stream.live
