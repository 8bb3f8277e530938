"""Fixtures for the GWS tests: a simulator on a free 127.0.0.1 port with short Bayeux advice, and
a recorder of everything a GwsSession hands on, with deadline-bound waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from ctibridge.core.events import GwsCallUpdate, InboundEvent
from ctibridge.core.gws_parse import parse_gws
from ctibridge.gws import GwsAgent, GwsAgents, GwsSettings
from ctibridge.sim.gws import Advice, GwsSimulator, SimAgent

AGENTS = [SimAgent("agent1", "secret1", "5001"), SimAgent("agent2", "secret2", "5002")]
DEADLINE = 5.0


@dataclass
class Recorder:
    """Collects on_message/on_link output of GWS sessions, parsed the way the bridge parses it."""

    raws: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: list[InboundEvent] = field(default_factory=list)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (dn, status, detail)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_message(self, dn: str, raw: dict[str, Any], t: float) -> None:
        self.raws.append((dn, raw))
        event = parse_gws(raw, t, dn=dn)
        if event is not None:
            self.events.append(event)
        self.changed.set()

    def on_link(self, dn: str, status: str, t: float, detail: str) -> None:
        self.links.append((dn, status, detail))
        self.changed.set()

    async def wait_for(self, predicate: Callable[[], Any], within: float = DEADLINE) -> Any:
        """Wait until ``predicate()`` is truthy (returns it), failing after ``within`` seconds."""
        async with asyncio.timeout(within):
            while not (result := predicate()):
                self.changed.clear()
                await self.changed.wait()
        return result

    def link_count(self, status: str, dn: str | None = None) -> int:
        return sum(1 for d, s, _ in self.links if s == status and (dn is None or d == dn))


def call_states(recorder: Recorder, call_id: str) -> list[str]:
    """The states of one call, in the order its GwsCallUpdate events arrived."""
    return [e.call.state for e in recorder.events if isinstance(e, GwsCallUpdate) and e.call.id == call_id]


def last_state(recorder: Recorder, call_id: str) -> str:
    states = call_states(recorder, call_id)
    return states[-1] if states else ""


async def established_call(sim: GwsSimulator, bridge: GwsAgents, recorder: Recorder, dn: str = "5001") -> str:
    """An inbound call rung on ``dn`` and answered through the bridge's GWS operations."""
    call_id = sim.call_ringing(dn, ani="+15550001000")
    await recorder.wait_for(lambda: last_state(recorder, call_id) == "Ringing")
    await bridge.operations(dn).answer(call_id)
    await recorder.wait_for(lambda: last_state(recorder, call_id) == "Established")
    return call_id


@pytest.fixture
async def sim() -> AsyncIterator[GwsSimulator]:
    simulator = GwsSimulator(AGENTS, advice=Advice(timeout_ms=1500, interval_ms=0))
    await simulator.start()
    yield simulator
    await simulator.stop()


def gws_settings(base_url: str, agents: list[SimAgent], dialect: str = "v2", **overrides: Any) -> GwsSettings:
    """Short timeouts for fast tests. v2 learns each agent's DN at login; v3 is told it."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "dialect": dialect,
        "agents": [
            GwsAgent(username=a.username, password=SecretStr(a.password), dn=a.dn if dialect == "v3" else "")
            for a in agents
        ],
        "request_timeout": 3.0,
        "open_timeout": 4.0,
        "connection_timeout": 2.0,
        "backoff_initial": 0.1,
        "backoff_max": 0.5,
    }
    return GwsSettings(**(values | overrides))


async def started_agents(sim: GwsSimulator, dialect: str, **overrides: Any) -> tuple[GwsAgents, Recorder]:
    recorder = Recorder()
    settings = gws_settings(sim.base_url, AGENTS, dialect, **overrides)
    bridge = GwsAgents(settings, on_message=recorder.on_message, on_link=recorder.on_link)
    await bridge.start()
    await recorder.wait_for(lambda: recorder.link_count("connected") == 2)
    return bridge, recorder


@pytest.fixture(params=["v2", "v3"])
async def agents(
    sim: GwsSimulator, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[GwsAgents, Recorder]]:
    """Both simulated agents logged in and subscribed, in each GWS dialect."""
    bridge, recorder = await started_agents(sim, request.param)
    yield bridge, recorder
    await bridge.stop()


@pytest.fixture
async def v2_agents(sim: GwsSimulator) -> AsyncIterator[tuple[GwsAgents, Recorder]]:
    """For what only GWS 8.5 API v2 has: CSRF, devices, the recorded message shapes."""
    bridge, recorder = await started_agents(sim, "v2")
    yield bridge, recorder
    await bridge.stop()
