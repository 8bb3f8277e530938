"""The AMI simulator over TCP, driven by the bridge's own AMI client and channel operations: the
responses Asterisk 22 gives, and every operation confirmed by the events it waits for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.ami.errors import AmiActionError
from ctibridge.ami.operations import ChannelOperations
from ctibridge.core.ami_parse import RawMessage
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.ami.pbx import SimChannel


@dataclass
class Link:
    sim: AmiSimulator
    client: AmiClient
    ops: ChannelOperations
    events: list[RawMessage] = field(default_factory=list)

    def answered_call(self, dn: str = "5001") -> tuple[SimChannel, SimChannel]:
        trunk, agent = self.sim.pbx.inbound_ring(dn, "+15550001000", "Caller", "UUID-" + dn, "1-1@127.0.0.2")
        self.sim.pbx.answer(agent)
        return trunk, agent


@pytest.fixture
async def link() -> AsyncIterator[Link]:
    sim = AmiSimulator(agent_dns=frozenset({"5001", "5002"}))
    port = await sim.start()
    events: list[RawMessage] = []
    client = AmiClient(
        AmiSettings(port=port, username=sim.username, secret=SecretStr(sim.secret)),
        on_message=lambda raw, t: events.append(raw),
        on_link=lambda *_: None,
    )
    await client.start(timeout_s=5)
    yield Link(sim, client, ChannelOperations(client, confirm_timeout_s=3, consult_timeout_s=3), events)
    await client.close()
    await sim.stop()


async def test_login_resync_and_registrations(link: Link) -> None:
    assert link.events[0] == {"_greeting": "Asterisk Call Manager/11.0.0"}
    assert any(e.get("Event") == "FullyBooted" for e in link.events)
    assert link.client.registrations() == {"5001": "Registered", "5002": "Registered"}
    pong = await link.client.send({"Action": "Ping"})
    assert pong["Ping"] == "Pong"


async def test_listings_answer_like_asterisk(link: Link) -> None:
    link.answered_call()
    channels = await link.client.send_list({"Action": "CoreShowChannels"})  # items only
    assert [m["Event"] for m in channels] == ["CoreShowChannel", "CoreShowChannel"]
    assert {m["BridgeId"] for m in channels} == set(link.sim.pbx.bridges)
    status = await link.client.send_list({"Action": "Status", "Channel": channels[0]["Channel"]})
    assert [m["Channel"] for m in status] == [channels[0]["Channel"]]
    with pytest.raises(AmiActionError, match="No such channel"):
        await link.client.send_list({"Action": "Status", "Channel": "PJSIP/5001-000000ff"})
    bridges = await link.client.send_list({"Action": "BridgeList"})
    assert sum(m.get("Event") == "BridgeListItem" for m in bridges) == 1


async def test_hold_and_retrieve_by_redirect_and_bridge(link: Link) -> None:
    trunk, agent = link.answered_call()
    await link.ops.hold(trunk.name, agent.name)
    assert link.sim.pbx.channels[trunk.name].music and not link.sim.pbx.channels[agent.name].bridge
    await link.ops.retrieve(trunk.name, agent.name)
    assert link.sim.pbx.channels[trunk.name].bridge == link.sim.pbx.channels[agent.name].bridge != ""


async def test_blind_transfer_to_another_dn(link: Link) -> None:
    _, agent = link.answered_call()
    await link.ops.blind_transfer(agent.name, "5002")
    assert agent.name not in link.sim.pbx.channels
    assert any(name.startswith("PJSIP/5002-") for name in link.sim.pbx.dials)


async def test_consult_then_complete_and_consult_then_cancel(link: Link) -> None:
    trunk, agent = link.answered_call()
    await link.ops.consult_transfer(agent.name, "5550009999")
    await link.ops.complete_transfer(agent.name)
    assert agent.name not in link.sim.pbx.channels and trunk.name in link.sim.pbx.channels

    trunk2, agent2 = link.answered_call("5002")
    await link.ops.consult_transfer(agent2.name, "5550009999")
    await link.ops.cancel_transfer(agent2.name)
    assert link.sim.pbx.channels[agent2.name].bridge == link.sim.pbx.channels[trunk2.name].bridge


async def test_refusals_carry_asterisks_messages(link: Link) -> None:
    with pytest.raises(AmiActionError, match="Channel1 does not exist"):
        await link.client.send(
            {"Action": "Bridge", "Channel1": "PJSIP/genesys-00000099", "Channel2": "PJSIP/5001-00000098"}
        )
    with pytest.raises(AmiActionError, match="Invalid/unknown command"):
        await link.client.send({"Action": "Originate", "Channel": "PJSIP/5001"})
    _, agent = link.answered_call()
    await link.ops.hangup(agent.name)
    assert not link.sim.pbx.channels


async def test_restart_is_seen_and_survived(link: Link) -> None:
    await link.sim.restart(down_s=0.1)
    await link.client.wait_ready(5)
    assert any(e.get("Event") == "Shutdown" for e in link.events)
    assert sum(e.get("Event") == "FullyBooted" for e in link.events) == 2
