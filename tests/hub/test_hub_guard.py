"""What the hub refuses or cuts off, and the request/answer messages (both stores)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from callviews import DeltaStream
from eventually import eventually
from widget_rig import Widget, mint


@pytest.mark.parametrize(("token", "reason"), [
    ("agent-1|5001|9999999999.000|forged", "bad_signature"),
    (mint("agent-1", ["5001"], ttl=-1), "expired"),
    (mint("agent-1", ["5001"], secret=b"someone-elses-secret"), "bad_signature")])
async def test_expired_or_forged_token_is_closed_4401_with_its_reason(bridge, session, token, reason):
    b = await bridge()
    widget = Widget(session, b.url, token=token)
    await widget.send_hello()
    assert await widget.closed_with() == 4401
    assert widget.close_reason == reason
    assert b.hub.stats.refusals == {reason: 1} and b.hub.clients_count() == 0


async def test_dn_not_in_token_is_closed_4403(bridge, session):
    b = await bridge()
    widget = Widget(session, b.url, "5002", token=mint("agent-1", ["5001"]))
    await widget.send_hello()
    assert await widget.closed_with() == 4403
    assert b.hub.stats.refusals == {"dn_not_allowed": 1}


async def test_foreign_origin_is_closed_4403_before_its_hello_is_read(bridge, session):
    b = await bridge()
    for origin in ("https://evil.example", None):  # another page, and no Origin at all
        widget = Widget(session, b.url, origin=origin)
        await widget.send_hello()  # a valid hello, replayed from elsewhere
        assert await widget.closed_with() == 4403
    assert b.hub.stats.refusals == {"origin_not_allowed": 2} and b.hub.clients_count() == 0


async def test_bad_or_late_hello(bridge, session):
    b = await bridge(hello_timeout=0.2)
    widget = Widget(session, b.url)
    ws = await widget.open()
    await ws.send_str('{"type": "ping"}')
    error = await widget.recv()
    assert error["type"] == "error" and error["code"] == "bad_hello"
    assert await widget.closed_with() == 4400

    silent = Widget(session, b.url)
    await silent.open()
    assert await silent.closed_with() == 4408


async def test_oversized_frame_is_closed_1009(bridge, session):
    b = await bridge(max_msg_size=4096)
    widget = Widget(session, b.url)
    await widget.hello()
    await widget.ws.send_str('{"type": "ping", "pad": "' + "x" * 5000 + '"}')
    assert await widget.closed_with() == 1009


async def test_ping_action_and_bad_messages_on_an_open_session(bridge, session):
    b = await bridge()
    widget = Widget(session, b.url)
    await widget.hello()
    ws = widget.ws
    await ws.send_json({"type": "ping"})
    assert await widget.recv() == {"type": "pong"}
    await ws.send_json({"type": "action", "id": "a1", "call_id": "5001-3", "action": "hold"})
    result = await widget.recv()
    assert result["type"] == "action_result" and result["id"] == "a1"
    assert result["ok"] and result["outcome"] == "confirmed" and result["detail"] == "agent-1 hold 5001-3"
    assert result["latency_ms"] >= 0
    for bad, code, says in (("not json", "bad_json", "Invalid JSON"),
                            ('{"type": "dance"}', "bad_message", "'dance'"),
                            ('{"type": "action", "id": "a2", "call_id": "c", "action": "dtmf"}',
                             "bad_message", "dtmf needs params.digits"),
                            ('{"type": "hello", "credential": {"kind": "session"}, "dn": "5001"}',
                             "unexpected_hello", "hello")):
        await ws.send_str(bad)
        error = await widget.recv()
        assert error["type"] == "error" and error["code"] == code and says in error["message"], (bad, error)
    assert b.hub.stats.bad_messages == 4
    await ws.send_json({"type": "ping"})
    assert await widget.recv() == {"type": "pong"}  # still served


async def test_a_failing_action_handler_answers_failed(bridge, session):
    async def broken(principal, msg):
        raise RuntimeError("AMI gone")

    b = await bridge(on_action=broken)
    widget = Widget(session, b.url)
    await widget.hello()
    await widget.ws.send_json({"type": "action", "id": "x", "call_id": "5001-1", "action": "hangup"})
    result = await widget.recv()
    assert (result["id"], result["ok"], result["outcome"]) == ("x", False, "failed")
    assert "AMI gone" in result["detail"]


async def test_message_flood_is_closed_4429(bridge, session):
    b = await bridge(rate_per_second=1.0, rate_burst=5)
    widget = Widget(session, b.url)
    await widget.hello()
    for _ in range(20):
        await widget.ws.send_json({"type": "ping"})
    assert await widget.closed_with() == 4429
    assert b.hub.stats.rate_limited == 1


async def test_server_ping_when_idle(bridge, session):
    b = await bridge(heartbeat=0.5)
    widget = Widget(session, b.url)
    await widget.hello()
    frame = await widget.recv(pings=True)
    assert frame["type"] == "ping" and abs(frame["t"] - time.time()) < 5


async def test_slow_client_is_closed_4429_and_a_fast_one_gets_everything(bridge, session):
    b = await bridge(send_queue=8)
    stream = DeltaStream("5001", padding=16 * 1024)
    slow, fast = Widget(session, b.url), Widget(session, b.url)
    await slow.hello()
    # a phone on a bad network: a small fixed receive window (no autotuning to tens of MB)
    slow.ws.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    await fast.hello()  # the slow one never reads from here on
    deltas = stream.take(600)  # ~10 MB: more than the socket buffers hold
    got: list[int] = []
    progress = asyncio.Event()

    async def read_fast() -> None:
        while len(got) < len(deltas):
            got.append((await fast.recv())["seq"])
            progress.set()

    reader = asyncio.create_task(read_fast())
    started = time.monotonic()
    for i in range(0, len(deltas), 4):  # the pipeline's pace: as fast as the fast widget reads
        await b.feed(deltas[i:i + 4])
        while len(got) < i:
            await asyncio.wait_for(progress.wait(), 5)
            progress.clear()
    await asyncio.wait_for(reader, 5)
    assert got == list(range(1, 601))
    assert time.monotonic() - started < 10
    await eventually(lambda: b.hub.stats.slow_consumers == 1, what="slow consumer detected")
    assert b.hub.clients_count() == 1  # the fast one
    assert await slow.closed_with() == 4429
