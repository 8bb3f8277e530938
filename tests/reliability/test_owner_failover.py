"""Issue 15 items 7 and 8: the widget stream stays exactly-once through a Redis stall and an owner
crash, on real processes: a real redis-server (SIGSTOP/SIGCONT), the owner a real ``ctibridge run``
process killed with SIGKILL, the successor a service instance in this process that was a follower
until then, the GWS and AMI simulators as the peers, real WebSocket widgets.

The failure this guards against: during the stall the owner kept publishing deltas Redis did not
hold; the successor restored Redis's older state and issued the same sequence numbers again with
other content, in the same epoch, and a widget resuming from the old owner's stream accepted them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eventually import eventually
from owner_process import Widget, owner_process
from service_rig import TOKEN_SECRET, Rig, service_on, simulators

from ctibridge.identity.hmac_token import mint
from ctibridge.sim.gws import GwsSimulator
from ctibridge.store import RedisStore

pytestmark = pytest.mark.redis

DN = "5001"
TTL_S = 1.5
STALL_S = 6.0


def bridge_calls(rig: Rig) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in rig.components.pipeline.correlator.snapshot(DN)[1]}


def bridge_seq(rig: Rig) -> int:
    return rig.components.pipeline.correlator.snapshot(DN)[0]


async def toggle(gws: GwsSimulator, call: str, times: int, every: float = 0.05) -> None:
    """The agent holds and retrieves the call in WWE: one delta each time."""
    for i in range(times):
        gws.set_state(call, "Held" if i % 2 == 0 else "Established")
        await asyncio.sleep(every)  # the agent's pace; each change is its own GWS event


async def stored_frames(url: str) -> tuple[str, dict[int, dict[str, Any]]]:
    """The stream as Redis holds it: its epoch and every logged delta by seq."""
    reader = RedisStore(url)
    try:
        deltas = await reader.since(DN, 0)
        assert deltas is not None, "the log must hold the whole test's stream"
        return reader.epoch, {d.seq: d.message() for d in deltas}
    finally:
        await reader.aclose()


def same_content(seen: dict[str, Any], stored: dict[str, Any]) -> bool:
    return {**seen, "type": "delta"} == {**stored, "type": "delta"}


async def test_stall_then_owner_killed_no_widget_ever_sees_a_sequence_twice(redis_process, tmp_path: Path):
    token = mint(TOKEN_SECRET.encode(), "agent1", [DN], 3600, time.time())
    async with (simulators() as (gws, ami),
                owner_process(gws, ami, tmp_path, redis_url=redis_process.url, instance="a",
                              ttl_s=TTL_S) as owner,
                aiohttp.ClientSession() as http):
        await eventually(lambda: gws.subscribed(DN), within=15.0, what="the owner process's GWS session")
        on_owner = Widget(token, DN)  # the killed owner's own widget
        await on_owner.hello(http, owner.ws_url)
        tasks = [asyncio.create_task(on_owner.pump())]
        call = gws.call_ringing(DN, ani="+15550001000")
        gws.set_state(call, "Established")
        await toggle(gws, call, 10)
        await eventually(lambda: on_owner.seq >= 10, what="the first deltas on the owner's widget")

        async with service_on(gws, ami, wait_ready=False, store={
                "kind": "redis", "redis_url": redis_process.url, "instance_id": "b",
                "ownership_ttl_s": TTL_S}) as successor:
            assert not successor.components.role.owner
            on_follower = Widget(token, DN)  # served by the follower while the owner changes
            await on_follower.hello(http, successor.url("/ws"))
            tasks.append(asyncio.create_task(on_follower.follow(http, successor.url("/ws"))))
            try:
                redis_process.pause()
                await toggle(gws, call, int(STALL_S / 0.1), every=0.1)  # the owner goes on meanwhile
                owner.kill()
                await owner.proc.wait()
                redis_process.resume()
                await eventually(lambda: successor.components.role.owner, within=15.0, what="the takeover")
                await eventually(lambda: successor.components.pipeline.links.get(f"gws:{DN}") == "connected",
                                 within=15.0, what="the successor's GWS session")
                # the successor's sequence goes past everything the old owner's widget was shown
                shown = on_owner.seq
                deadline = time.monotonic() + 30.0
                while bridge_seq(successor) <= shown + 3:
                    assert time.monotonic() < deadline, (bridge_seq(successor), shown)
                    await toggle(gws, call, 2)
                # the killed owner's widget reconnects to the survivor with its last seq
                on_owner.ws = None
                await on_owner.hello(http, successor.url("/ws"))
                tasks.append(asyncio.create_task(on_owner.follow(http, successor.url("/ws"))))
                await toggle(gws, call, 2)
                for widget in (on_owner, on_follower):
                    await eventually(lambda w=widget: w.calls == bridge_calls(successor) and w.calls,
                                     within=10.0, what="the widget's calls equal the bridge's")
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        epoch, stored = await stored_frames(redis_process.url)
        for widget in (on_owner, on_follower):
            seen = widget.deltas()
            same_stream = {seq: frame for (e, seq), frame in seen.items() if e == epoch}
            assert same_stream, "the stream went on in the same epoch"
            different = [seq for seq, frame in same_stream.items()
                         if seq in stored and not same_content(frame, stored[seq])]
            assert not different, f"seqs shown with content the store does not hold: {different}"


ACTIONS = {"step_timeout_s": 1.0, "confirm_timeout_s": 1.5}  # the follower's relay waits 3.5 s


async def test_an_action_in_flight_when_the_owner_dies_ends_clearly_and_is_not_done_twice(
        redis_process, tmp_path: Path):
    """A widget on a follower asks for a hold; the owner process relays it to GWS, which does not
    answer; the owner is killed. The widget gets a clear outcome, and the successor does not carry
    the action out again (the relay's request dies with the owner that took it)."""
    token = mint(TOKEN_SECRET.encode(), "agent1", [DN], 3600, time.time())
    store = {"kind": "redis", "redis_url": redis_process.url, "ownership_ttl_s": TTL_S}
    async with (simulators() as (gws, ami),
                owner_process(gws, ami, tmp_path, redis_url=redis_process.url, instance="a", ttl_s=TTL_S,
                              actions=ACTIONS) as owner,
                aiohttp.ClientSession() as http):
        await eventually(lambda: gws.subscribed(DN), within=15.0, what="the owner process's GWS session")
        call = gws.call_ringing(DN, ani="+15550001000")
        gws.set_state(call, "Established")
        async with service_on(gws, ami, wait_ready=False, actions=ACTIONS,
                              store={**store, "instance_id": "b"}) as successor:
            widget = Widget(token, DN)
            await widget.hello(http, successor.url("/ws"))
            pump = asyncio.create_task(widget.follow(http, successor.url("/ws")))
            try:
                await eventually(lambda: [c["state"] for c in widget.calls.values()] == ["established"],
                                 within=10.0, what="the established call on the follower's widget")
                gws.stall_next("call_op")  # GWS takes the hold and never answers
                assert widget.ws is not None
                await widget.ws.send_str(json.dumps({"type": "action", "id": "hold-1", "action": "hold",
                                                     "call_id": next(iter(widget.calls))}))
                await eventually(lambda: gws.stalled, within=5.0, what="the hold reached GWS")
                owner.kill()
                await owner.proc.wait()
                results = await eventually(lambda: [f for f in widget.frames if f["type"] == "action_result"],
                                           within=10.0, what="the action's outcome")
                # "timeout" (the relay's wait) or "failed" (the owner's step timeout, if it answered
                # before it died): either way one clear answer, not a success
                assert [(r["id"], r["ok"]) for r in results] == [("hold-1", False)], results
                assert results[0]["outcome"] in ("timeout", "failed") and results[0]["detail"], results
                await eventually(lambda: successor.components.role.owner, within=15.0, what="the takeover")
                await eventually(lambda: successor.components.pipeline.links.get(f"gws:{DN}") == "connected",
                                 within=15.0, what="the successor's GWS session")
                assert [op.name for op in gws.operations] == []  # never carried out, by either owner
                assert [c["state"] for c in bridge_calls(successor).values()] == ["established"]
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
