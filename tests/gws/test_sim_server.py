"""The simulator itself, spoken to with plain aiohttp: Bayeux protocol details (handshake, held
connect, advice, 402, unsubscribe, disconnect, websocket), GWS REST auth and CSRF, and the
standalone ``python -m ctibridge.sim.gws`` server."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ctibridge.sim.gws import Advice, GwsSimulator, SimAgent

AGENT = SimAgent("agent1", "secret1", "5001")
AUTH = {"Authorization": aiohttp.encode_basic_auth("agent1", "secret1")}


@pytest.fixture
async def sim() -> AsyncIterator[GwsSimulator]:
    simulator = GwsSimulator([AGENT], advice=Advice(timeout_ms=600, interval_ms=0))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http(sim: GwsSimulator) -> AsyncIterator[tuple[aiohttp.ClientSession, dict[str, str]]]:
    """A logged-in session (cookie jar) and the CSRF header to send on POSTs."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=AUTH) as session:
        async with session.get(f"{sim.base_url}/api/v2/me") as reply:
            assert reply.status == 200
            name = reply.headers["X-CSRF-HEADER"]
            yield session, {name: reply.headers[name]}


async def bayeux(session: aiohttp.ClientSession, sim: GwsSimulator, csrf: dict[str, str], *msgs: Any) -> Any:
    async with session.post(f"{sim.base_url}/api/v2/notifications", json=list(msgs), headers=csrf) as reply:
        assert reply.status == 200
        return await reply.json()


async def handshake(session: aiohttp.ClientSession, sim: GwsSimulator, csrf: dict[str, str]) -> str:
    [reply] = await bayeux(
        session,
        sim,
        csrf,
        {
            "channel": "/meta/handshake",
            "version": "1.0",
            "id": "1",
            "supportedConnectionTypes": ["long-polling"],
        },
    )
    assert reply["successful"] and reply["supportedConnectionTypes"] == ["long-polling", "websocket"]
    assert reply["advice"] == {"reconnect": "retry", "interval": 0, "timeout": 600}
    return str(reply["clientId"])


async def until_held(sim: GwsSimulator, client_id: str) -> None:
    """The server is holding this client's /meta/connect."""
    await asyncio.wait_for(sim.bayeux.clients[client_id].holding.wait(), 2)


def connect(client_id: str) -> dict[str, Any]:
    return {"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling", "id": "c"}


async def test_long_polling_protocol(
    sim: GwsSimulator, http: tuple[aiohttp.ClientSession, dict[str, str]]
) -> None:
    session, csrf = http
    client_id = await handshake(session, sim, csrf)
    subscribe = {"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/v2/me/*", "id": "s"}
    # the first connect answers at once; its batch-mate subscribe takes effect first
    replies = await bayeux(session, sim, csrf, connect(client_id), subscribe)
    assert [r["channel"] for r in replies] == ["/meta/subscribe", "/meta/connect"]
    assert all(r["successful"] for r in replies)
    started = time.monotonic()
    [held] = await bayeux(session, sim, csrf, connect(client_id))  # nothing to deliver: held for the timeout
    assert held["successful"] and 0.5 <= time.monotonic() - started < 5.0

    pending = asyncio.create_task(bayeux(session, sim, csrf, connect(client_id)))
    await until_held(sim, client_id)
    call_id = sim.call_ringing("5001", ani="+15550001000")
    async with asyncio.timeout(2):
        reply, delivered = await pending
    assert reply["channel"] == "/meta/connect" and delivered["channel"] == "/v2/me/calls"
    assert delivered["data"]["call"]["id"] == call_id  # the wildcard subscription matched

    unsubscribe = {
        "channel": "/meta/unsubscribe",
        "clientId": client_id,
        "subscription": "/v2/me/*",
        "id": "u",
    }
    [unsubscribed] = await bayeux(session, sim, csrf, unsubscribe)
    assert unsubscribed["successful"] and sim.bayeux.publish(None, "/v2/me/calls", {}) == 0
    [bye] = await bayeux(
        session, sim, csrf, {"channel": "/meta/disconnect", "clientId": client_id, "id": "d"}
    )
    assert bye["successful"]
    [unknown] = await bayeux(session, sim, csrf, connect(client_id))
    assert unknown["error"] == "402::Unknown client" and unknown["advice"]["reconnect"] == "handshake"


async def test_held_connect_returns_402_when_clients_are_dropped(
    sim: GwsSimulator, http: tuple[aiohttp.ClientSession, dict[str, str]]
) -> None:
    session, csrf = http
    client_id = await handshake(session, sim, csrf)
    await bayeux(session, sim, csrf, connect(client_id))
    sim.bayeux.advice = Advice(timeout_ms=10_000)  # a long hold, so returning early is visible
    pending = asyncio.create_task(bayeux(session, sim, csrf, connect(client_id)))
    await until_held(sim, client_id)
    sim.drop_sessions()
    async with asyncio.timeout(5):  # well before the 10 s hold
        [reply] = await pending
    assert reply["successful"] is False and reply["advice"]["reconnect"] == "handshake"


async def test_websocket_transport(
    sim: GwsSimulator, http: tuple[aiohttp.ClientSession, dict[str, str]]
) -> None:
    session, _ = http
    async with session.ws_connect(f"{sim.base_url}/api/v2/notifications") as ws:
        await ws.send_json(
            [
                {
                    "channel": "/meta/handshake",
                    "version": "1.0",
                    "id": "1",
                    "supportedConnectionTypes": ["websocket"],
                }
            ]
        )
        client_id = (await ws.receive_json(timeout=2))[0]["clientId"]
        await ws.send_json([connect(client_id)])
        await ws.receive_json(timeout=2)  # first connect: at once
        await ws.send_json([connect(client_id)])  # held on the socket ...
        await ws.send_json(
            [{"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/v2/me/calls", "id": "s"}]
        )  # ... while the subscribe is still answered
        assert (await ws.receive_json(timeout=2))[0]["channel"] == "/meta/subscribe"
        call_id = sim.call_ringing("5001")
        reply, delivered = await ws.receive_json(timeout=2)
        assert reply["channel"] == "/meta/connect" and delivered["data"]["call"]["id"] == call_id


async def test_rest_auth_csrf_and_session(
    sim: GwsSimulator, http: tuple[aiohttp.ClientSession, dict[str, str]]
) -> None:
    session, csrf = http
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{sim.base_url}/api/v2/me") as reply:
            assert reply.status == 401 and reply.headers["WWW-Authenticate"].startswith("Basic")
        wrong = {"Authorization": aiohttp.encode_basic_auth("agent1", "nope")}
        async with anonymous.get(f"{sim.base_url}/api/v2/me", headers=wrong) as reply:
            assert reply.status == 401
    start = {"operationName": "StartContactCenterSession", "channels": ["voice"]}
    async with session.post(f"{sim.base_url}/api/v2/me", json=start) as reply:
        assert (reply.status, await reply.text()) == (403, "Missing or invalid Csrf token")
    async with session.post(f"{sim.base_url}/api/v2/me", json=start, headers=csrf) as reply:
        assert (reply.status, await reply.json()) == (200, {"statusCode": 0})
    sim.expire_session("agent1")
    async with session.get(f"{sim.base_url}/api/v2/me/calls") as reply:
        assert reply.status == 401
    async with session.get(f"{sim.base_url}/api/v2/me") as reply:  # a new login: a new CSRF token
        assert reply.status == 200 and reply.headers["X-CSRF-TOKEN"] != next(iter(csrf.values()))


async def test_standalone_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ctibridge.sim.gws",
        "--port",
        str(port),
        "--agent",
        "demo:pw:6001",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(10):
            line = await process.stdout.readline()  # type: ignore[union-attr]
        assert f"127.0.0.1:{port}" in line.decode() and "demo/6001" in line.decode()
        headers = {"Authorization": aiohttp.encode_basic_auth("demo", "pw")}
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/api/v2/me", headers=headers) as reply:
                body = json.loads(await reply.text())
        assert body["user"]["devices"][0]["phoneNumber"] == "6001"
    finally:
        process.terminate()
        await process.wait()


async def test_silent_client_is_forgotten_after_max_interval(
    sim: GwsSimulator, http: tuple[aiohttp.ClientSession, dict[str, str]]
) -> None:
    """A client that died without /meta/disconnect (SIGKILL) stops counting as subscribed."""
    now = [1000.0]
    sim.bayeux.clock = lambda: now[0]
    session, csrf = http
    client_id = await handshake(session, sim, csrf)
    subscribe = {
        "channel": "/meta/subscribe",
        "clientId": client_id,
        "subscription": "/v2/me/calls",
        "id": "s",
    }
    await bayeux(session, sim, csrf, connect(client_id), subscribe)
    now[0] += 9.9  # CometD's default maxInterval is 10 s
    assert sim.subscribed("5001")
    now[0] += 0.2
    assert not sim.subscribed("5001") and client_id not in sim.bayeux.clients
    [reply] = await bayeux(session, sim, csrf, connect(client_id))
    assert reply["error"] == "402::Unknown client"
