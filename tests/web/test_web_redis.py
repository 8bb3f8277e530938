"""Bridge instances on one real redis-server: the widget stream survives a restart of the bridge
(same calls, same epoch, the sequence continues) and two instances serve the same stream."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from webharness import (
    Bridge,
    BridgeFactory,
    Widget,
    bearer,
    config_text,
    env_with_secrets,
    token,
    until,
    until_answer,
)

from ctibridge.sim.gws import GwsSimulator
from tools.local_services import free_port

pytestmark = pytest.mark.redis


async def redis_bridge(factory: BridgeFactory, redis_url: str, instance: str, ami_port: int) -> Bridge:
    return await factory(ami_port=ami_port, store={"kind": "redis", "redis_url": redis_url,
                                                   "instance_id": instance, "ownership_ttl_s": 1.5})


def seqs(widget: Widget) -> list[int]:
    return [f["seq"] for f in widget.frames if f["type"] in ("snapshot", "delta")]


def contiguous(numbers: list[int]) -> bool:
    return numbers == list(range(numbers[0], numbers[0] + len(numbers)))


async def ringing_call(bridge: Bridge, sim: GwsSimulator, widget: Widget) -> dict[str, Any]:
    await until(lambda: sim.subscribed("5001"), what="GWS session of 5001")
    sim.call_ringing("5001", ani="+15550001000")
    return await widget.next("delta", where=lambda d: d["op"] == "created")


async def test_api_on_the_redis_store(bridge_factory: BridgeFactory, redis_server: str, closed_port: int,
                                      gws_sim: GwsSimulator) -> None:
    bridge = await redis_bridge(bridge_factory, redis_server, "a", closed_port)
    await until(lambda: bridge.components.role.owner, what="owner")
    widget = await bridge.widget(token("agent1", "5001"), "5001")
    await widget.next("snapshot")
    created = await ringing_call(bridge, gws_sim, widget)
    async with bridge.http.get(bridge.url("/api/calls"), headers=bearer(token("agent1", "5001"))) as resp:
        assert [c["id"] for c in (await resp.json())["calls"]] == [created["call"]["id"]]
    async with bridge.http.get(bridge.url("/readyz"), headers=bearer(token("agent1", "5001"))) as resp:
        health = await resp.json()
    assert health["store"]["kind"] == "redis" and health["store"]["ok"]
    assert health["ownership"] == {"instance_id": "a", "owner": True}


async def test_restart_keeps_live_calls_and_continues_the_sequence(
        bridge_factory: BridgeFactory, redis_server: str, closed_port: int, gws_sim: GwsSimulator) -> None:
    first = await redis_bridge(bridge_factory, redis_server, "a", closed_port)
    await until(lambda: first.components.role.owner, what="first instance owns")
    widget = await first.widget(token("agent1", "5001"), "5001")
    snapshot = await widget.next("snapshot")
    created = await ringing_call(first, gws_sim, widget)
    call_id = created["call"]["id"]
    last = seqs(widget)[-1]

    await first.stop()  # SIGTERM-like: state saved with every batch, lease released
    second = await redis_bridge(bridge_factory, redis_server, "b", closed_port)
    await until(lambda: second.components.role.owner, what="second instance owns")
    assert second.components.pipeline.correlator.call(call_id) is not None  # restored, not re-created

    again = await second.widget(token("agent1", "5001"), "5001",
                                since={"epoch": snapshot["epoch"], "seq": last})
    resumed = await again.next("resume")
    assert resumed["from_seq"] == last + 1 and resumed["epoch"] == snapshot["epoch"]
    await until(lambda: gws_sim.subscribed("5001"), what="GWS session of the new owner")
    gws_sim.set_state(gws_sim.calls_of("5001")[0].id, "Established")
    delta = await again.next("delta", where=lambda d: d["call"]["state"] == "established")
    assert delta["call"]["id"] == call_id and delta["seq"] > last
    assert contiguous([last, *seqs(again)])  # no gap, no duplicate across the restart
    async with second.http.get(second.url(f"/api/calls/{call_id}"),
                               headers=bearer(token("agent1", "5001"))) as resp:
        assert resp.status == 200 and (await resp.json())["state"] == "established"


async def test_two_instances_serve_the_same_widget_stream(
        bridge_factory: BridgeFactory, redis_server: str, closed_port: int, gws_sim: GwsSimulator) -> None:
    owner = await redis_bridge(bridge_factory, redis_server, "a", closed_port)
    await until(lambda: owner.components.role.owner, what="first instance owns")
    follower = await redis_bridge(bridge_factory, redis_server, "b", closed_port)
    on_owner = await owner.widget(token("agent1", "5001"), "5001")
    on_follower = await follower.widget(token("agent1", "5001"), "5001")
    assert (await on_owner.next("snapshot"))["epoch"] == (await on_follower.next("snapshot"))["epoch"]

    created = await ringing_call(owner, gws_sim, on_owner)
    mirrored = await on_follower.next("delta", where=lambda d: d["op"] == "created")
    assert (mirrored["seq"], mirrored["call"]) == (created["seq"], created["call"])
    gws_sim.set_state(gws_sim.calls_of("5001")[0].id, "Established")
    for widget in (on_owner, on_follower):
        await widget.next("delta", where=lambda d: d["call"]["state"] == "established")
    assert seqs(on_owner) == seqs(on_follower) and contiguous(seqs(on_owner))
    assert not follower.components.role.owner and follower.components.role.sources.gws is None
    async with follower.http.get(follower.url("/api/calls"), headers=bearer(token("agent1", "5001"))) as resp:
        assert [c["state"] for c in (await resp.json())["calls"]] == ["established"]
    async with follower.http.get(follower.url(f"/api/calls/{created['call']['id']}"),
                                 headers=bearer(token("agent2", "5002"))) as resp:
        assert resp.status == 403  # the follower knows the call is another DN's
    # actions sent to the follower are carried out by the owner (relayed over Redis)
    async with follower.http.post(follower.url(f"/api/calls/{created['call']['id']}/actions"),
                                  json={"action": "hold"}, headers=bearer(token("agent1", "5001"))) as resp:
        result = await resp.json()
    assert result["outcome"] == "confirmed", result
    call_id = created["call"]["id"]
    await on_follower.send({"type": "action", "id": "r", "call_id": call_id, "action": "retrieve"})
    result = await on_follower.next("action_result")
    assert (result["id"], result["outcome"]) == ("r", "confirmed"), result
    await on_follower.send({"type": "action", "id": "x", "call_id": call_id, "action": "hangup"})
    assert (await on_follower.next("action_result"))["outcome"] == "confirmed"
    assert [op.name for op in gws_sim.operations] == ["Hold", "Retrieve", "Hangup"]
    async with follower.http.get(follower.url("/readyz"), headers=bearer(token("agent1", "5001"))) as resp:
        health = await resp.json()
    assert health["ownership"] == {"instance_id": "b", "owner": False} and health["status"] == "ready"


async def test_a_follower_takes_over_when_the_owner_process_dies(
        bridge_factory: BridgeFactory, redis_server: str, closed_port: int, gws_sim: GwsSimulator,
        tmp_path: Path) -> None:
    """The owner is a real `ctibridge run` process, killed with SIGKILL (no release, no goodbye):
    the follower takes the lease when it expires, restores the calls and reconnects to GWS."""
    port = free_port()
    config = tmp_path / "owner.toml"
    config.write_text(config_text(gws_sim.base_url, port, closed_port, tmp_path / "owner.jsonl")
                      + f'[store]\nkind = "redis"\nredis_url = "{redis_server}"\ninstance_id = "dying"\n'
                        "ownership_ttl_s = 1.5\n")
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ctibridge.cli", "run", "--config", str(config), env=env_with_secrets(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await until(lambda: gws_sim.subscribed("5001"), within=15.0, what="the owner process's GWS session")
        call_uuid = gws_sim.call_ringing("5001")
        follower = await redis_bridge(bridge_factory, redis_server, "b", closed_port)
        store = follower.components.store

        async def stored_calls() -> list[dict[str, Any]]:
            return (await store.snapshot("5001"))[1]

        await until_answer(stored_calls, what="the owner process stored the call")
        widget = await follower.widget(token("agent1", "5001"), "5001")
        snapshot = await widget.next("snapshot")
        assert [c["call_uuid"] for c in snapshot["calls"]] == [call_uuid]
        assert not follower.components.role.owner
    finally:
        owner.kill()
        await owner.wait()

    await until(lambda: follower.components.role.owner, within=10.0, what="takeover after the lease expired")
    call_id = snapshot["calls"][0]["id"]
    assert follower.components.pipeline.correlator.call(call_id) is not None  # restored from Redis
    await until(lambda: gws_sim.subscribed("5001") and follower.components.pipeline.links.get("gws:5001")
                == "connected", within=15.0, what="the new owner's GWS session")
    gws_sim.set_state(call_uuid, "Established")
    delta = await widget.next("delta", where=lambda d: d["call"]["state"] == "established")
    assert delta["call"]["id"] == call_id and contiguous(seqs(widget))
