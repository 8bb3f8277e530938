"""The GWS simulator's conference operations in both dialects (v2 ``/api/v2/me/calls/{id}``,
Workspace v3 ``/workspace/v3/voice/calls/{id}/{operation}``), over real HTTP, and how a call
controller (the SIP Server stand-in) takes operations over."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.gws.calls import SimCall
from ctibridge.sim.gws.server import Operation

AGENT = SimAgent("agent5003", "pw-5003-conference", "5003")


@pytest.fixture
async def sim() -> AsyncIterator[GwsSimulator]:
    simulator = GwsSimulator([AGENT])
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(sim: GwsSimulator) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)  # the session cookie of a server on an IP address
    basic = base64.b64encode(f"{AGENT.username}:{AGENT.password}".encode()).decode()
    async with aiohttp.ClientSession(headers={"Authorization": f"Basic {basic}"}, cookie_jar=jar) as session:
        yield session


async def v2(session: aiohttp.ClientSession, sim: GwsSimulator, call_id: str, operation: str,
             **body: Any) -> int:
    async with session.get(f"{sim.base_url}/api/v2/me") as resp:
        csrf = resp.headers["X-CSRF-TOKEN"]
    async with session.post(f"{sim.base_url}/api/v2/me/calls/{call_id}", headers={"X-CSRF-TOKEN": csrf},
                            json={"operationName": operation, **body}) as resp:
        return resp.status


async def v3(session: aiohttp.ClientSession, sim: GwsSimulator, call_id: str, operation: str,
             **data: Any) -> int:
    async with session.get(f"{sim.base_url}/workspace/v3/current-session"):
        pass
    async with session.post(f"{sim.base_url}/workspace/v3/voice/calls/{call_id}/{operation}",
                            json={"data": data}) as resp:
        return resp.status


def established(sim: GwsSimulator) -> str:
    call_id = sim.call_ringing("5003", ani="5550001000")
    sim.set_state(call_id, "Established")
    return call_id


async def test_single_step_conference_in_both_dialects(sim: GwsSimulator,
                                                      client: aiohttp.ClientSession) -> None:
    call_id = established(sim)
    assert await v2(client, sim, call_id, "SingleStepConference", destination={"phoneNumber": "5004"}) == 200
    assert await v3(client, sim, call_id, "single-step-conference", destination="5005") == 200
    assert sim.calls[call_id].participants == ["5550001000", "5004", "5005"]
    assert [op.name for op in sim.operations] == ["SingleStepConference", "SingleStepConference"]
    assert await v2(client, sim, call_id, "SingleStepConference") == 400  # no destination


async def test_initiate_and_complete_conference_in_both_dialects(sim: GwsSimulator,
                                                                 client: aiohttp.ClientSession) -> None:
    call_id = established(sim)
    assert await v3(client, sim, call_id, "initiate-conference", destination="5004") == 200
    consult = sim.calls[call_id].consult_peer
    assert sim.calls[call_id].state == "Held" and sim.calls[consult].consult_kind == "conference"
    assert await v2(client, sim, consult, "CompleteConference") == 200
    assert consult not in sim.calls and sim.calls[call_id].state == "Established"
    assert sim.calls[call_id].participants == ["5550001000", "5004"]


async def test_a_call_controller_carries_operations_out(sim: GwsSimulator,
                                                       client: aiohttp.ClientSession) -> None:
    handed: list[tuple[Operation, SimCall]] = []

    class Recorder:
        def carry_out(self, operation: Operation, call: SimCall) -> None:
            handed.append((operation, call))

    sim.call_control = Recorder()
    call_id = established(sim)
    assert await v2(client, sim, call_id, "Hold") == 200
    assert [(op.name, call.id) for op, call in handed] == [("Hold", call_id)]
    assert sim.calls[call_id].state == "Established"  # held only once the controller says so
    sim.apply(*reversed(handed[0]))  # e.g. an operation without a SIP part
    assert sim.calls[call_id].state == "Held"
