"""The whole service against the real Asterisk 22 sandbox and the GWS simulator.

sipp plays the Genesys SIP Server (a call to DN 5003 with X-Genesys-CallUUID) and the agent's
phone; ``GenesysMirror`` (on its own AMI session) makes the GWS simulator report the same call
with the same CallUUID, as SIP Server would. The bridge under test connects to both like in
production: real AMI client, real GWS session, real widget WebSocket.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from fixtures_asterisk import LabAsterisk
from webharness import Bridge, BridgeFactory, Widget, bearer, token, until

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.sim.gws import GwsSimulator
from ctibridge.sim.lab_gateway import GenesysMirror
from ctibridge.sim.sipp import Sipp, SippCall

pytestmark = pytest.mark.asterisk

DN = "5003"  # the lab DN with a sipp phone
WITHIN = 15.0


def call_uuid() -> str:
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(32))


@pytest.fixture
async def mirror(asterisk: LabAsterisk, gws_sim: GwsSimulator) -> AsyncIterator[GenesysMirror]:
    """The simulated SIP Server: its own AMI session turns the gateway's calls into GWS messages."""
    genesys = GenesysMirror(gws_sim)
    client = AmiClient(AmiSettings(host=asterisk.ami_host, port=asterisk.ami_port, username=asterisk.ami_user,
                                   secret=asterisk.ami_secret, backoff_initial=0.1, backoff_max=1.0),
                       genesys.on_ami, lambda status, t, uptime: None)
    await client.start(timeout_s=WITHIN)
    yield genesys
    await client.close()


@pytest.fixture
async def bridge(bridge_factory: BridgeFactory, asterisk: LabAsterisk, mirror: GenesysMirror) -> Bridge:
    bridge = await bridge_factory(ami_port=asterisk.ami_port, ami={"secret": asterisk.ami_secret})
    ami = await until(lambda: bridge.components.role.sources.ami, what="AMI client")
    await ami.wait_ready(WITHIN)
    return bridge


@dataclass(frozen=True)
class Place:
    context: str
    application: str
    bridge_id: str


def channel_places(asterisk: LabAsterisk) -> dict[str, Place]:
    """Asterisk's own word (CLI, not AMI): channel name -> where it is now."""
    # concise: Channel!Context!Exten!Priority!State!Application!Data!CallerID!Account!PeerAccount!
    #          AMAflags!Duration!BridgeID!Uniqueid
    lines = asterisk.sandbox.cli("core show channels concise").splitlines()
    fields = [line.split("!") for line in lines if line.count("!") >= 12]
    return {f[0]: Place(f[1], f[5], f[12]) for f in fields}


def established_in_sync(uuid: str) -> Any:
    def check(delta: dict[str, Any]) -> bool:
        call = delta["call"]
        return (call["call_uuid"] == uuid and call["state"] == "established"
                and call["sync"]["status"] == "ok" and call["genesys"] is not None
                and call["asterisk"] is not None)
    return check


async def answered_call(bridge: Bridge, sipp: Sipp, gws_sim: GwsSimulator) -> tuple[Widget, dict[str, Any],
                                                                                    list[SippCall]]:
    """A Genesys call to DN answered by its phone, seen by a widget: (widget, delta, sipps)."""
    await until(lambda: gws_sim.subscribed(DN), what="GWS session of 5003")
    widget = await bridge.widget(token("agent3", DN), DN)
    await widget.next("snapshot")
    uuid = call_uuid()
    phone = await sipp.phone_answer(DN, pause_ms=200)
    genesys = await sipp.genesys_call(DN, uuid, flow="until_bye")
    delta = await widget.next("delta", within=WITHIN, where=established_in_sync(uuid))
    return widget, delta, [phone, genesys]


async def hang_up(widget: Widget, call_id: str, sipps: list[SippCall]) -> None:
    """End the call from the widget; both sipps (Genesys and the phone) must get their BYE."""
    await widget.send({"type": "action", "id": "bye", "call_id": call_id, "action": "hangup"})
    result = await widget.next("action_result", within=WITHIN)
    assert result["outcome"] == "confirmed", result
    for call in sipps:
        ended = await call.wait(WITHIN)
        assert ended.ok, f"{call.name} rc={ended.rc}\n{ended.errors}"


def contiguous(frames: list[dict[str, Any]]) -> bool:
    seqs = [f["seq"] for f in frames if f["type"] in ("snapshot", "delta")]
    return seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_call_is_correlated_and_streamed_in_sync(bridge: Bridge, sipp: Sipp, gws_sim: GwsSimulator,
                                                       asterisk: LabAsterisk) -> None:
    widget, delta, sipps = await answered_call(bridge, sipp, gws_sim)
    call = delta["call"]
    assert call["dn"] == DN and call["genesys"]["call_id"] == call["call_uuid"]
    roles = sorted(ch["role"] for ch in call["asterisk"]["channels"])
    assert roles == ["agent", "trunk"]
    assert contiguous(widget.frames)
    operator = bearer(token("op", "5001", "5002", "5003", "5004"))
    async with bridge.http.get(bridge.url("/readyz"), headers=operator) as resp:
        health = await resp.json()
    assert health["ami"]["link"] == "connected" and health["ami"]["ready"]
    assert set(health["ami"]["registrations"]) >= {"5001", "5002", "5003", "5004"}
    await hang_up(widget, call["id"], sipps)
    removed = [f for f in widget.frames if f["type"] == "delta" and f["op"] == "removed"]
    assert [d["call"]["id"] for d in removed] == [call["id"]] and contiguous(widget.frames)


async def test_hold_and_retrieve_from_the_widget_move_the_real_channels(
        bridge: Bridge, sipp: Sipp, gws_sim: GwsSimulator, asterisk: LabAsterisk) -> None:
    widget, delta, sipps = await answered_call(bridge, sipp, gws_sim)
    call_id = delta["call"]["id"]
    legs = {ch["role"]: ch["name"] for ch in delta["call"]["asterisk"]["channels"]}
    trunk, agent = legs["trunk"], legs["agent"]

    await widget.send({"type": "action", "id": "h1", "call_id": call_id, "action": "hold"})
    result = await widget.next("action_result", within=WITHIN)
    assert (result["id"], result["outcome"]) == ("h1", "confirmed"), result
    on_hold = channel_places(asterisk)[trunk]  # the customer hears the hold music
    assert (on_hold.context, on_hold.application, on_hold.bridge_id) == ("ctibridge-hold", "MusicOnHold", "")
    assert [op.name for op in gws_sim.operations] == ["Hold"]  # Genesys was asked first

    await widget.send({"type": "action", "id": "r1", "call_id": call_id, "action": "retrieve"})
    result = await widget.next("action_result", within=WITHIN)
    assert (result["id"], result["outcome"]) == ("r1", "confirmed"), result
    places = channel_places(asterisk)
    assert places[trunk].application != "MusicOnHold"
    assert places[trunk].bridge_id and places[trunk].bridge_id == places[agent].bridge_id  # talking again
    assert [op.name for op in gws_sim.operations] == ["Hold", "Retrieve"]
    assert contiguous(widget.frames)
    await hang_up(widget, call_id, sipps)


async def test_hold_from_wwe_is_mapped_onto_asterisk(bridge: Bridge, sipp: Sipp, gws_sim: GwsSimulator,
                                                     asterisk: LabAsterisk) -> None:
    """The agent holds in WWE: Genesys says Held, Asterisk did nothing. After the grace period the
    bridge repairs it (rule held_in_genesys_only): the customer leg goes to ctibridge-hold. The
    retrieve in WWE is mapped back the same way (held_in_asterisk_only: the bridge's own hold)."""
    widget, delta, sipps = await answered_call(bridge, sipp, gws_sim)
    trunk = next(ch["name"] for ch in delta["call"]["asterisk"]["channels"] if ch["role"] == "trunk")
    gws_sim.set_state(delta["call"]["genesys"]["call_id"], "Held")
    pending = await widget.next("delta", within=WITHIN, where=lambda d: d["call"]["sync"]["status"] != "ok")
    assert pending["call"]["sync"]["rule"] == "held_in_genesys_only"
    held = await widget.next("delta", within=WITHIN, where=lambda d: d["call"]["asterisk"]["held"]
                             and d["call"]["sync"]["status"] == "ok")
    assert held["call"]["state"] == "held"
    assert channel_places(asterisk)[trunk].application == "MusicOnHold"
    metrics = bridge.components.metrics
    assert metrics.repairs.labels("ami_hold", "done")._value.get() == 1

    gws_sim.set_state(delta["call"]["genesys"]["call_id"], "Established")
    await widget.next("delta", within=WITHIN, where=lambda d: not d["call"]["asterisk"]["held"]
                      and d["call"]["sync"]["status"] == "ok" and d["call"]["state"] == "established")
    assert channel_places(asterisk)[trunk].application != "MusicOnHold"
    assert metrics.repairs.labels("ami_retrieve", "done")._value.get() == 1
    assert contiguous(widget.frames)
    await hang_up(widget, delta["call"]["id"], sipps)


async def test_hold_times_out_when_asterisk_never_follows(
        bridge_factory: BridgeFactory, asterisk: LabAsterisk, mirror: GenesysMirror, sipp: Sipp,
        gws_sim: GwsSimulator) -> None:
    """Genesys holds, but with the repair off nothing moves the Asterisk leg: the sides never agree,
    so the action is not confirmed (outcome timeout) and the call shows diverged."""
    bridge = await bridge_factory(ami_port=asterisk.ami_port, ami={"secret": asterisk.ami_secret},
                                  correlation={"auto_repair": {"held_in_genesys_only": False}},
                                  actions={"confirm_timeout_s": 2.5})
    ami = await until(lambda: bridge.components.role.sources.ami, what="AMI client")
    await ami.wait_ready(WITHIN)
    widget, delta, sipps = await answered_call(bridge, sipp, gws_sim)
    await widget.send({"type": "action", "id": "h1", "call_id": delta["call"]["id"], "action": "hold"})
    result = await widget.next("action_result", within=WITHIN)
    assert (result["outcome"], result["ok"]) == ("timeout", False), result
    view = bridge.components.pipeline.correlator.call(delta["call"]["id"])
    assert view is not None and view["sync"] == {**view["sync"], "status": "diverged",
                                                 "rule": "held_in_genesys_only"}
    gws_sim.set_state(delta["call"]["genesys"]["call_id"], "Established")  # WWE retrieves
    await widget.next("delta", within=WITHIN, where=lambda d: d["call"]["sync"]["status"] == "ok")
    await hang_up(widget, delta["call"]["id"], sipps)
