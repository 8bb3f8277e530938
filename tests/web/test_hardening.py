"""What a red-team run found, each closed: idle and incomplete connections time out, one address
cannot hold every descriptor, an agent's actions are limited over all its sockets, binary frames
count against the frame limit, junk tokens cannot spend a real agent's REST budget, only the
widget's own files are served, a huge Genesys value never reaches a widget, and every refusal is
counted in /metrics. The bridge is served exactly as ``ctibridge run`` serves it (``serving``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from webharness import ALLOWED_ORIGIN, bearer, settings_for, token, until, until_answer

from ctibridge.service.assemble import Components, build
from ctibridge.sim.gws import GwsSimulator
from ctibridge.web.app import create_app
from ctibridge.web.serve import serving
from tools.local_services import free_port

WITHIN = 5.0


@dataclass
class Served:
    base: str
    components: Components
    http: aiohttp.ClientSession

    async def metric(self, name: str) -> dict[str, float]:
        """The samples of one metric family: label text -> value."""
        async with self.http.get(f"{self.base}/metrics") as resp:
            text = await resp.text()
        return {line.split(" ")[0].removeprefix(name): float(line.split(" ")[1])
                for line in text.splitlines() if line.startswith(name)}

    async def widget(self, agent: str, dn: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self.http.ws_connect(f"{self.base.replace('http', 'ws')}/ws",
                                        headers={"Origin": ALLOWED_ORIGIN})
        credential = {"kind": "hmac", "token": token(agent, dn)}
        await ws.send_str(json.dumps({"type": "hello", "dn": dn, "credential": credential}))
        assert (await ws.receive_json(timeout=WITHIN))["type"] == "snapshot"
        return ws


@contextlib.asynccontextmanager
async def served(gws_sim: GwsSimulator, **sections: dict[str, Any]) -> AsyncIterator[Served]:
    settings = settings_for(gws_sim.base_url, ami_port=free_port(), **sections)
    components = build(settings)
    sock = socket.create_server(("127.0.0.1", 0))
    async with serving(create_app(settings, components=components), settings, sock) as base, \
            aiohttp.ClientSession() as http:
        yield Served(base, components, http)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the server closes the connection within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
        return True
    except TimeoutError:
        return False


async def test_incomplete_headers_and_idle_connections_are_closed(gws_sim: GwsSimulator) -> None:
    async with served(gws_sim, http={"header_timeout_s": 0.5, "idle_timeout_s": 1.0}) as bridge:
        port = int(bridge.base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert await closed_within(reader, 3.0)
        writer.close()
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", port)  # says nothing
        assert await closed_within(silent_reader, 3.0)
        silent.close()
        kept_reader, kept = await asyncio.open_connection("127.0.0.1", port)
        kept.write(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")  # one request, then idle
        assert await kept_reader.readuntil(b"\r\n\r\n")
        assert await closed_within(kept_reader, 3.0)
        kept.close()
        refused = await bridge.metric("ctibridge_refused_from_http_listener_total")
        assert refused['{reason="header_timeout"}'] >= 2


async def test_one_address_cannot_hold_every_connection(gws_sim: GwsSimulator) -> None:
    async with served(gws_sim, http={"connections_per_ip": 5, "header_timeout_s": 30.0}) as bridge:
        port = int(bridge.base.rsplit(":", 1)[1])
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        extra_reader, extra = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_within(extra_reader, 2.0)  # the sixth is refused at once
        extra.close()
        for _, writer in held:
            writer.close()
        async def admitted() -> bool:  # the server sees the closes soon after: capacity is back
            with contextlib.suppress(aiohttp.ClientError):
                async with bridge.http.get(f"{bridge.base}/livez") as resp:
                    return resp.status == 200
            return False

        assert await until_answer(admitted, what="a connection admitted again")
        refused = await bridge.metric("ctibridge_refused_from_http_listener_total")
        assert refused['{reason="connections_per_ip"}'] >= 1  # the sixth (and polls before the closes)


async def test_an_agents_actions_are_limited_over_all_its_sockets_and_rest(gws_sim: GwsSimulator) -> None:
    async with served(gws_sim, actions={"per_agent_per_second": 0.01, "per_agent_burst": 4}) as bridge:
        sockets = [await bridge.widget("agent1", "5001") for _ in range(4)]
        for n, ws in enumerate(sockets):
            for k in range(2):
                await ws.send_json({"type": "action", "id": f"{n}-{k}", "call_id": "nope", "action": "hold"})
        results = [await ws.receive_json(timeout=WITHIN) for ws in sockets for _ in range(2)]
        limited = [r for r in results if "rate limited" in r["detail"]]
        assert len(results) == 8 and len(limited) == 4  # 4 of 8 over the burst, whichever socket
        async with bridge.http.post(f"{bridge.base}/api/calls/nope/actions", json={"action": "hold"},
                                    headers=bearer(token("agent1", "5001"))) as resp:
            assert resp.status in (404, 429)  # no such call: the limit applies once the call is found
        other = await bridge.widget("agent2", "5002")  # another agent is not affected
        await other.send_json({"type": "action", "id": "x", "call_id": "nope", "action": "hold"})
        assert "rate limited" not in (await other.receive_json(timeout=WITHIN))["detail"]
        refused = await bridge.metric("ctibridge_refused_from_widget_hub_total")
        assert refused['{reason="action_rate_limited"}'] == 4
        for ws in [*sockets, other]:
            await ws.close()


async def test_binary_frames_count_against_the_frame_limit(gws_sim: GwsSimulator) -> None:
    async with served(gws_sim, auth={"rate_limit": {"per_second": 0.5, "burst": 5}}) as bridge:
        ws = await bridge.widget("agent1", "5001")
        for _ in range(10):
            await ws.send_bytes(b"\x00" * 100)
        async with asyncio.timeout(WITHIN):
            while (await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                pass
        assert ws.close_code == 4429
        refused = await bridge.metric("ctibridge_refused_from_widget_hub_total")
        assert refused['{reason="rate_limited"}'] == 1 and refused['{reason="bad_message"}'] == 5


async def test_junk_tokens_do_not_spend_a_real_agents_rest_budget(gws_sim: GwsSimulator) -> None:
    async with served(gws_sim, auth={"rate_limit": {"per_second": 0.01, "burst": 3}}) as bridge:
        real = bearer(token("agent1", "5001"))
        for n in range(20):  # each a different forged bearer string
            async with bridge.http.get(f"{bridge.base}/api/calls", headers=bearer(f"junk{n}.sig")) as resp:
                assert resp.status in (401, 429)
        for _ in range(3):
            async with bridge.http.get(f"{bridge.base}/api/calls", headers=real) as resp:
                assert resp.status == 200
        async with bridge.http.get(f"{bridge.base}/api/calls", headers=real) as resp:
            assert resp.status == 429  # the agent's own burst is spent: the key is the agent
        refused = await bridge.metric("ctibridge_refused_total")
        assert refused['{reason="unauthorized",where="http"}'] == 3  # the rest were over the limit
        assert refused['{reason="rate_limited",where="http"}'] == 18


async def test_only_the_widgets_own_assets_are_served(gws_sim: GwsSimulator) -> None:
    async with served(gws_sim) as bridge:
        for path, status in (("/widget/", 200), ("/widget/app.js", 200), ("/widget/icon.svg", 200),
                             ("/widget/vendor/sip.js/index.js", 200), ("/widget/README.md", 404),
                             ("/widget/package.json", 404), ("/widget/node_modules/sip.js/package.json", 404),
                             ("/widget/vendor/sip.js/LICENSE.md", 404), ("/widget/../config.py", 404),
                             ("/widget/%2e%2e/config.py", 404), ("/widget/wwe.js", 200)):
            async with bridge.http.get(f"{bridge.base}{path}") as resp:
                assert resp.status == status, path
                if status == 200:
                    assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
                    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_huge_genesys_value_never_reaches_a_widget(gws_sim: GwsSimulator) -> None:
    async with served(gws_sim) as bridge:
        ws = await bridge.widget("agent1", "5001")
        await until(lambda: gws_sim.subscribed("5001"), what="GWS session of 5001")
        gws_sim.call_ringing("5001", ani="+15550001000", user_data={"Big": "x" * 5_000_000, "Small": "ok"})
        async with asyncio.timeout(WITHIN):
            while (frame := await ws.receive_json())["type"] != "delta":
                pass
        user_data = frame["call"]["user_data"]
        assert user_data["Small"] == "ok" and len(user_data["Big"]) < 5000 and "cut" in user_data["Big"]
        refused = await bridge.metric("ctibridge_refused_total")
        assert refused['{reason="value_too_large",where="gws"}'] >= 1
        await ws.close()


async def test_ami_noise_is_counted(gws_sim: GwsSimulator) -> None:
    """An AMI peer that sends a frame without Event or Response, then more than one frame may
    hold: both are dropped and counted, the bridge goes on."""

    async def noisy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\nFoo: bar\r\n\r\n" + b"X" * ((1 << 20) + 4096))
        await writer.drain()
        await reader.read()  # until the bridge gives up on us

    server = await asyncio.start_server(noisy, "127.0.0.1", 0)
    ami_port = server.sockets[0].getsockname()[1]
    try:
        settings = settings_for(gws_sim.base_url, ami_port=ami_port)
        components = build(settings)
        sock = socket.create_server(("127.0.0.1", 0))
        async with serving(create_app(settings, components=components), settings, sock) as base, \
                aiohttp.ClientSession() as http:
            bridge = Served(base, components, http)

            async def counted() -> bool:
                refused = await bridge.metric("ctibridge_refused")
                return (refused.get('_from_ami_total{reason="oversized_frame"}', 0) >= 1
                        and refused.get('_total{reason="no_event",where="ami"}', 0) >= 1)

            assert await until_answer(counted, what="AMI noise counted")
            async with http.get(f"{base}/livez") as resp:
                assert resp.status == 200
    finally:
        server.close()


async def test_a_refused_gws_login_is_logged(gws_sim: GwsSimulator, caplog: Any) -> None:
    agent = {"agent_id": "agent1", "username": "agent1", "password": "not-the-password", "dn": "5001"}
    async with served(gws_sim, gws={"agents": [agent]}):
        await until(lambda: "login_failed" in caplog.text, what="the GWS login failure logged")
    (line,) = [r for r in caplog.records if "login_failed" in r.getMessage()]
    assert line.levelname == "ERROR" and "agent1" in line.getMessage()
    assert "not-the-password" not in caplog.text
