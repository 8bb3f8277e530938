"""Scenarios played into both simulators reach the core through the real adapters, correlated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.core.ami_parse import parse_ami
from ctibridge.core.correlator import Correlator
from ctibridge.core.deltas import Delta
from ctibridge.core.events import AmiLink, GwsLink, InboundEvent
from ctibridge.core.gws_parse import parse_gws
from ctibridge.gws import GwsAgent, GwsAgents, GwsSettings
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import Advice, GwsSimulator, SimAgent
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import SCENARIO_DIR, load_scenario

AGENTS = [SimAgent("agent1", "secret1", "5001"), SimAgent("agent2", "secret2", "5002")]
SPEED = 4.0


@dataclass
class Stack:
    runner: ScenarioRunner
    core: Correlator = field(default_factory=Correlator)
    deltas: list[Delta] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def feed(self, event: InboundEvent | None) -> None:
        if event is not None:
            self.deltas += self.core.feed(event)
            self.changed.set()

    async def wait_for(self, predicate, within: float = 8.0) -> None:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    gws = GwsSimulator(AGENTS, advice=Advice(timeout_ms=1500, interval_ms=0))
    await gws.start()
    ami = AmiSimulator(agent_dns=frozenset({"5001", "5002"}))
    port = await ami.start()
    runner = ScenarioRunner(gws, ami, speed=SPEED)
    st = Stack(runner)
    agents = GwsAgents(
        GwsSettings(
            base_url=gws.base_url,
            backoff_initial=0.1,
            backoff_max=0.3,
            agents=[GwsAgent(username=a.username, password=SecretStr(a.password)) for a in AGENTS],
        ),
        on_message=lambda dn, raw, t: st.feed(parse_gws(raw, t, dn=dn)),
        on_link=lambda dn, status, t, detail: st.feed(GwsLink(t, dn, status, detail)),
    )
    client = AmiClient(
        AmiSettings(
            port=port,
            username=ami.username,
            secret=SecretStr(ami.secret),
            backoff_initial=0.1,
            backoff_max=0.3,
        ),
        on_message=lambda raw, t: st.feed(parse_ami(raw, t)),
        on_link=lambda status, t, *rest: st.feed(AmiLink(t, status)),
    )
    await agents.start()
    await client.start(timeout_s=5)
    await st.wait_for(lambda: all(gws.subscribed(a.dn) for a in AGENTS))
    yield st
    await client.close()
    await agents.stop()
    await ami.stop()
    await gws.stop()


def _seen(stack: Stack, dn: str, state: str, sync: str = "ok") -> bool:
    """A delta of ``dn`` showed a call in ``state`` with ``sync``, both sides present."""
    return any(
        d.dn == dn
        and d.call["state"] == state
        and d.call["sync"]["status"] == sync
        and d.call.get("genesys")
        and d.call.get("asterisk")
        for d in stack.deltas
    )


async def test_inbound_answered_is_one_call_seen_by_both_sides(stack: Stack) -> None:
    await stack.runner.play(load_scenario(SCENARIO_DIR / "inbound_answered.toml"))
    await stack.wait_for(lambda: _seen(stack, "5001", state="established", sync="ok"))
    await stack.wait_for(lambda: not stack.core.calls())
    assert stack.runner.errors == []
    assert stack.core.stats.parse_errors == {}


async def test_hold_both_ways_and_blind_transfer(stack: Stack) -> None:
    await stack.runner.play(load_scenario(SCENARIO_DIR / "hold_retrieve.toml"))
    await stack.runner.play(load_scenario(SCENARIO_DIR / "blind_transfer.toml"))
    await stack.wait_for(lambda: _seen(stack, "5001", state="held", sync="ok"))
    await stack.wait_for(lambda: _seen(stack, "5002", state="established", sync="ok"))
    assert stack.runner.errors == []
