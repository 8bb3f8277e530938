"""Widget protocol fuzz over a real WebSocket into the real service (hub, auth, rate limits,
action executor), with the GWS and AMI simulators behind it.

Whatever a widget sends after its hello (random JSON of any shape, messages of the protocol with
wrong types or missing fields, unknown types, text that is not JSON, binary frames, invalid UTF-8,
frames over the size limit), it gets error replies or its socket is closed with a protocol close
code; the service logs no error, keeps serving, and a bystander widget of another agent on the
same DN range keeps its live call and its stream.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_rig import WITHIN, Rig, running_service

MAX_FRAME = 4096
# 1007 invalid UTF-8, 1009 too big, 4429 flood (a binary frame gets an error reply); 1011 (internal
# error) or an abrupt end would be a crash.
CLEAN_CLOSES = {1007, 1009, 4429}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)
CREDENTIAL = st.fixed_dictionaries({"kind": st.sampled_from(["jwt", "hmac", "session", "password"])},
                                   optional={"token": JSON})
PROTOCOL = st.fixed_dictionaries(
    {"type": st.sampled_from(["hello", "ping", "pong", "action", "delta", "snapshot", "resume", "",
                              "HELLO"])},
    optional={"id": JSON, "call_id": JSON, "action": st.sampled_from(
        ["hold", "retrieve", "hangup", "dtmf", "blind_transfer", "answer", "fly"]) | JSON,
              "params": JSON | st.dictionaries(st.sampled_from(["digits", "destination"]), JSON),
              "token": JSON, "dn": JSON, "since": JSON, "seq": JSON, "credential": JSON | CREDENTIAL},
)
TEXT = st.one_of(
    PROTOCOL.map(json.dumps),
    JSON.map(json.dumps),
    st.text(max_size=200),
    st.integers(MAX_FRAME + 1, 4 * MAX_FRAME).map(lambda n: '{"type": "ping", "pad": "' + "x" * n + '"}'),
)
FRAME = st.one_of(
    TEXT.map(lambda s: ("text", s.encode())),
    st.binary(max_size=300).map(lambda b: ("binary", b)),
    st.binary(min_size=1, max_size=50).map(lambda b: ("bad_utf8", b"\xff" + b)),
)

_agents = itertools.count()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with running_service(auth={"max_frame_bytes": MAX_FRAME,
                                     "rate_limit": {"per_second": 50.0, "burst": 50}}) as r:
        yield r


async def send(ws: aiohttp.ClientWebSocketResponse, kind: str, payload: bytes) -> None:
    if kind == "binary":
        await ws.send_bytes(payload)
    elif kind == "bad_utf8":
        await ws._writer.send_frame(payload, aiohttp.WSMsgType.TEXT)  # what send_str cannot send
    else:
        await ws.send_str(payload.decode())


async def answers(ws: aiohttp.ClientWebSocketResponse) -> tuple[list[dict[str, Any]], int | None]:
    """Frames until the pong of the closing ping, or the close code."""
    frames = []
    while True:
        msg = await ws.receive(timeout=WITHIN)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return frames, ws.close_code
        frame = json.loads(msg.data)
        if frame["type"] == "pong":
            return frames, None
        frames.append(frame)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(FRAME, min_size=1, max_size=6))
async def test_any_frame_gets_an_error_or_a_clean_close_and_harms_no_one(
        rig: Rig, frames: list[tuple[str, bytes]], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    if not rig.gws.calls:
        rig.gws.call_ringing("5002", ani="+15550009999")  # the bystander's live call
        async with asyncio.timeout(WITHIN):  # in the bridge before the bystander's snapshot
            while not rig.components.pipeline.correlator.calls():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    bystander = await rig.widget("bystander", "5002")
    fuzzed = await rig.widget(f"fuzz{next(_agents)}", "5001")
    bad_before = rig.components.hub.stats.bad_messages
    try:
        for kind, payload in frames:
            await send(fuzzed, kind, payload)
        if not fuzzed.closed:
            await fuzzed.send_str('{"type": "ping"}')
        replies, code = await answers(fuzzed)
    except ConnectionResetError:
        replies, code = [], fuzzed.close_code
    assert code is None or code in CLEAN_CLOSES, (code, frames)
    for reply in replies:
        assert reply["type"] in ("error", "action_result", "delta", "ping"), reply
        if reply["type"] == "error":
            assert reply["code"] and reply["message"]
        if reply["type"] == "action_result":
            assert not reply["ok"] and reply["outcome"] == "rejected", reply  # no call of 5001 exists
    errors = [r for r in replies if r["type"] == "error"]
    assert rig.components.hub.stats.bad_messages - bad_before >= len(errors)
    # the bystander is unharmed: its call is still there and it is still served
    await bystander.send_str('{"type": "ping"}')
    # its call may change meanwhile (the grace period of a call only Genesys knows ends): skip deltas
    while (reply := await bystander.receive_json(timeout=WITHIN))["type"] == "delta":
        assert reply["call"]["dn"] == "5002"
    assert reply == {"type": "pong"}
    await bystander.close()
    await fuzzed.close()
    assert [c["dn"] for c in rig.components.pipeline.correlator.calls()] == ["5002"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]
