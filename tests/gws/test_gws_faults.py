"""Faults: simulator restart mid-call, dropped Bayeux clients, expired session, refused login, CSRF
refusals, failing operations, malformed messages. Nothing may be lost and one agent's trouble
must not touch the other."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import AGENTS, Recorder, established_call, gws_settings, last_state, started_agents

from ctibridge.core.events import GwsCallsSnapshot, ParseError
from ctibridge.gws import GwsAgents, GwsOperationError
from ctibridge.sim.gws import Advice, GwsSimulator, SimAgent

Agents = tuple[GwsAgents, Recorder]


def snapshots(recorder: Recorder, dn: str) -> list[GwsCallsSnapshot]:
    return [e for e in recorder.events if isinstance(e, GwsCallsSnapshot) and e.dn == dn]


async def ring_and_wait(sim: GwsSimulator, recorder: Recorder, within: float) -> str:
    call_id = sim.call_ringing("5001", ani="+15550001000")
    await recorder.wait_for(lambda: last_state(recorder, call_id) == "Ringing", within=within)
    return call_id


@pytest.fixture(params=[("v2", "long-polling"), ("v2", "websocket"), ("v3", "long-polling")], ids=str)
async def transport_agents(sim: GwsSimulator, request: pytest.FixtureRequest) -> AsyncIterator[Agents]:
    dialect, transport = request.param
    bridge, recorder = await started_agents(sim, dialect, connection_types=[transport])
    assert bridge.session_for_dn("5001")._link.connection_type == transport  # type: ignore[union-attr]
    yield bridge, recorder
    await bridge.stop()


async def test_restart_mid_call_relogin_resubscribe_reread(
    sim: GwsSimulator, transport_agents: Agents
) -> None:
    bridge, recorder = transport_agents
    call_id = await established_call(sim, bridge, recorder)
    before = len(snapshots(recorder, "5001"))
    sim.restart()
    sim.set_state(call_id, "Held")  # published while nobody is subscribed: lost on the Bayeux side
    await recorder.wait_for(lambda: len(snapshots(recorder, "5001")) > before)
    reread = snapshots(recorder, "5001")[-1]
    assert [(c.id, c.state) for c in reread.calls] == [(call_id, "Held")]  # the state, re-read by REST
    assert recorder.link_count("session_expired", "5001") >= 1
    await recorder.wait_for(lambda: recorder.link_count("connected", "5001") == 2)
    calls_channel = bridge.sessions["agent1"].dialect.channels[0]
    assert sim.subscribed("5001", calls_channel) and sim.subscribed("5002", calls_channel)
    await bridge.operations("5001").retrieve(call_id)  # new session, new CSRF token: operations work
    await recorder.wait_for(lambda: last_state(recorder, call_id) == "Established")


async def test_dropped_clients_rehandshake_and_reread(sim: GwsSimulator, transport_agents: Agents) -> None:
    bridge, recorder = transport_agents
    call_id = await established_call(sim, bridge, recorder)
    sim.drop_sessions()  # Bayeux clients forgotten, HTTP sessions kept: 402 -> library re-handshakes
    sim.set_state(call_id, "Held")
    await recorder.wait_for(lambda: recorder.link_count("connected", "5001") == 2)
    assert ("5001", "lost", "402::Unknown client") in recorder.links
    assert ("5001", "connected", "resubscribed") in recorder.links
    assert snapshots(recorder, "5001")[-1].calls[0].state == "Held"
    sim.release(call_id)
    await recorder.wait_for(lambda: last_state(recorder, call_id) == "Released")


async def test_expired_session_relogin_other_agent_untouched(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    links_5002 = [link for link in recorder.links if link[0] == "5002"]
    sim.expire_session("agent1")
    await recorder.wait_for(lambda: recorder.link_count("connected", "5001") == 2)
    assert recorder.link_count("session_expired", "5001") >= 1
    assert [link for link in recorder.links if link[0] == "5002"] == links_5002
    call_id = await established_call(sim, bridge, recorder, "5001")
    assert call_id in sim.calls


async def test_bad_credentials_clear_status_others_unaffected(sim: GwsSimulator) -> None:
    recorder = Recorder()
    wrong = [SimAgent("agent1", "WRONG", "5001"), AGENTS[1]]
    bridge = GwsAgents(
        gws_settings(sim.base_url, wrong), on_message=recorder.on_message, on_link=recorder.on_link
    )
    await bridge.start()
    try:
        await recorder.wait_for(
            lambda: recorder.link_count("login_failed", "agent1") >= 2
        )  # retried, backoff
        await recorder.wait_for(lambda: recorder.link_count("connected", "5002") == 1)
        failed = next(link for link in recorder.links if link[1] == "login_failed")
        assert failed[2].startswith("HTTP 401")
        assert "WRONG" not in repr(bridge.sessions["agent1"].settings) + str(recorder.links)
        status = {s.username: s.status for s in bridge.status()}
        assert status == {"agent1": "login_failed", "agent2": "connected"}
        call_id = sim.call_ringing("5002", ani="+15550001000")
        await recorder.wait_for(lambda: last_state(recorder, call_id) == "Ringing")
    finally:
        await bridge.stop()


async def test_csrf_refused_once_is_reread_and_retried(sim: GwsSimulator, v2_agents: Agents) -> None:
    bridge, recorder = v2_agents
    call_id = await established_call(sim, bridge, recorder)
    sim.fail_next(403, endpoint="call_op")
    await bridge.operations("5001").hold(call_id)
    await recorder.wait_for(lambda: last_state(recorder, call_id) == "Held")


async def test_csrf_refused_twice_fails_clearly(sim: GwsSimulator, v2_agents: Agents) -> None:
    bridge, recorder = v2_agents
    call_id = await established_call(sim, bridge, recorder)
    sim.fail_next(403, times=2, endpoint="call_op")
    with pytest.raises(GwsOperationError) as failure:
        await bridge.operations("5001").hold(call_id)
    assert (failure.value.operation, failure.value.status) == ("Hold", 403)
    assert failure.value.message == "Missing or invalid Csrf token"
    assert "Hold" not in [o.name for o in sim.operations]


async def test_csrf_refused_on_bayeux_other_agent_untouched(sim: GwsSimulator, v2_agents: Agents) -> None:
    _, recorder = v2_agents
    before = len(recorder.links)
    sim.fail_next(403, endpoint="notifications")  # the next Bayeux POST, whoever sends it
    await recorder.wait_for(lambda: recorder.link_count("csrf_failed") == 1, within=8)
    hit = next(dn for dn, status, _ in recorder.links if status == "csrf_failed")
    await recorder.wait_for(lambda: recorder.link_count("connected", hit) == 2, within=8)
    other = "5002" if hit == "5001" else "5001"
    assert [link for link in recorder.links[before:] if link[0] == other] == []


async def test_csrf_refused_on_start_session_is_retried(sim: GwsSimulator, v2_agents: Agents) -> None:
    bridge, recorder = v2_agents
    sim.fail_next(403, endpoint="start")
    sim.restart()  # both agents log in again and start their contact-center sessions
    await recorder.wait_for(lambda: recorder.link_count("csrf_failed") == 1, within=8)
    await recorder.wait_for(lambda: recorder.link_count("connected") == 4, within=8)
    assert all(s.status == "connected" for s in bridge.status())


async def test_operation_errors(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    ops = bridge.operations("5001")
    call_id = sim.call_ringing("5001", ani="+15550001000")
    with pytest.raises(GwsOperationError) as not_allowed:
        await ops.hold(call_id)  # Ringing: Hold not in the capabilities
    assert not_allowed.value.status == 400 and "not allowed in state Ringing" in not_allowed.value.message
    with pytest.raises(GwsOperationError) as unknown:
        await ops.answer("NO-SUCH-CALL")
    assert unknown.value.status == 404
    sim.fail_next(500, endpoint="call_op")
    with pytest.raises(GwsOperationError) as server_error:
        await ops.answer(call_id)
    assert (server_error.value.status, server_error.value.message) == (500, "simulated failure")
    sim.stall_next("call_op")
    bridge.session_for_dn("5001").settings.request_timeout = 0.3
    with pytest.raises(GwsOperationError) as timed_out:
        await ops.answer(call_id)
    assert timed_out.value.status is None and "timed out" in str(timed_out.value)
    assert last_state(recorder, call_id) == "Ringing"


async def test_failed_reread_is_retried(sim: GwsSimulator, agents: Agents) -> None:
    _, recorder = agents
    sim.fail_next(500, endpoint="calls")
    sim.drop_sessions()
    await recorder.wait_for(lambda: recorder.link_count("connected", "5001") >= 2, within=8)
    assert any(status == "lost" and "500" in detail for dn, status, detail in recorder.links)


async def test_malformed_messages_counted_skipped_no_crash(sim: GwsSimulator, agents: Agents) -> None:
    bridge, recorder = agents
    v2 = bridge.sessions["agent1"].dialect.name == "v2"
    channel, kind = (
        ("/v2/me/calls", "CallStateChangeMessage") if v2 else ("/workspace/v3/voice", "CallStateChanged")
    )
    sim.publish_raw("5001", channel, {"messageType": kind, "call": {"state": "Ringing"}})
    sim.publish_raw("5001", channel, "garbage")
    sim.publish_raw("5001", channel, {"messageType": kind, "call": {"id": ["7"], "state": "Ringing"}})
    call_id = sim.call_ringing("5001", ani="+15550001000")
    await recorder.wait_for(lambda: last_state(recorder, call_id) == "Ringing")
    errors = [e.reason for e in recorder.events if isinstance(e, ParseError)]
    assert errors == [
        "call without id",
        "data: expected an object, got str",
        "id: expected a string, got list",
    ]
    assert all(s.status == "connected" for s in bridge.status())


async def test_stalled_handshake_is_bounded_and_retried(sim: GwsSimulator) -> None:
    sim.stall_next("notifications")  # one agent's first handshake POST never gets an answer
    bridge, recorder = await started_agents(sim, "v2", open_timeout=1.0)
    try:
        lost = [detail for _, status, detail in recorder.links if status == "lost"]
        assert lost and set(lost) == {"TimeoutError: "}
    finally:
        await bridge.stop()


async def test_server_down_then_back_on_the_same_port(sim: GwsSimulator, agents: Agents) -> None:
    """Longer than connection_timeout: the library gives up (TransportTimeoutError) and the
    supervisor rebuilds, failing to log in (connection refused) with backoff until GWS is back."""
    bridge, recorder = agents
    call_id = await established_call(sim, bridge, recorder)
    port = int(sim.base_url.rsplit(":", 1)[1])
    await sim.stop()

    def gave_up() -> bool:
        return any(dn == "5001" and "TransportTimeoutError" in detail for dn, _, detail in recorder.links)

    await recorder.wait_for(gave_up, within=6)
    sim.set_state(call_id, "Held")
    await sim.start(port=port)
    await recorder.wait_for(lambda: recorder.link_count("connected", "5001") >= 2, within=10)
    assert snapshots(recorder, "5001")[-1].calls[0].state == "Held"
    await bridge.operations("5001").retrieve(call_id)
    await recorder.wait_for(lambda: last_state(recorder, call_id) == "Established")


async def test_advice_interval_is_milliseconds(sim: GwsSimulator) -> None:
    """The library would sleep advice.interval *seconds* between connects; 300 ms must stay 300 ms."""
    sim.bayeux.advice = Advice(timeout_ms=1500, interval_ms=300)
    bridge, recorder = await started_agents(sim, "v2")
    try:
        for _ in range(3):  # each delivery ends a connect; the next one waits the interval
            await ring_and_wait(sim, recorder, within=3)
    finally:
        await bridge.stop()


async def test_library_noise_stays_out_of_the_logs(
    sim: GwsSimulator, agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    bridge, recorder = agents
    caplog.set_level(logging.INFO)
    sim.drop_sessions()
    await recorder.wait_for(lambda: recorder.link_count("connected", "5001") == 2)
    sim.restart()
    await recorder.wait_for(lambda: recorder.link_count("connected", "5001") == 3)
    await bridge.stop()
    noisy = [r for r in caplog.records if r.name.startswith(("aiocometd_noloop", "asyncio"))]
    assert noisy == []


async def test_consumer_bug_does_not_tear_the_link_down(
    sim: GwsSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    poisoned = sim.call_ringing("5001", ani="+15550009999")  # in the first REST re-read

    def fragile_consumer(dn: str, raw: dict[str, Any], t: float) -> None:
        if poisoned in json.dumps(raw):
            raise RuntimeError("consumer bug")
        recorder.on_message(dn, raw, t)

    bridge = GwsAgents(
        gws_settings(sim.base_url, AGENTS), on_message=fragile_consumer, on_link=recorder.on_link
    )
    await bridge.start()
    try:
        await recorder.wait_for(lambda: recorder.link_count("connected") == 2)
        sim.release(poisoned)
        call_id = sim.call_ringing("5001", ani="+15550001000")
        await recorder.wait_for(lambda: last_state(recorder, call_id) == "Ringing")
        assert recorder.link_count("connected", "5001") == 1 and recorder.link_count("lost") == 0
        assert (
            sum("consumer bug" in r.getMessage() or "consumer bug" in str(r.exc_info) for r in caplog.records)
            == 2
        )
    finally:
        await bridge.stop()
