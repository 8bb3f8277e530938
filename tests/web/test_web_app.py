"""The service over real HTTP and WebSocket clients: a whole bridge (memory store) with real GWS
sessions on the GWS simulator, and an AMI client whose Asterisk is down (so /readyz says so)."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from webharness import (
    AGENTS,
    ALLOWED_ORIGIN,
    SECRETS,
    Bridge,
    BridgeFactory,
    bearer,
    token,
    until,
)

from ctibridge.sim.gws import GwsSimulator


async def two_calls(bridge: Bridge, sim: GwsSimulator) -> tuple[str, str]:
    """One ringing call on 5001 and one on 5002; returns the bridge's call ids."""
    await until(lambda: sim.subscribed("5001") and sim.subscribed("5002"), what="GWS sessions subscribed")
    sim.call_ringing("5001", ani="+15550001000")
    sim.call_ringing("5002", ani="+15550002000")
    mine = await until(lambda: bridge.call_ids("5001"), what="call on 5001")
    other = await until(lambda: bridge.call_ids("5002"), what="call on 5002")
    return mine[0], other[0]


@pytest.fixture
async def bridge(bridge_factory: BridgeFactory, closed_port: int) -> Bridge:
    return await bridge_factory(ami_port=closed_port)


async def test_calls_are_scoped_to_the_tokens_dns(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    mine, other = await two_calls(bridge, gws_sim)
    headers = bearer(token("agent1", "5001"))
    async with bridge.http.get(bridge.url("/api/calls"), headers=headers) as resp:
        assert resp.status == 200
        calls = (await resp.json())["calls"]
    assert [c["id"] for c in calls] == [mine] and calls[0]["remote"]["number"] == "+15550001000"
    async with bridge.http.get(bridge.url(f"/api/calls/{mine}"), headers=headers) as resp:
        assert resp.status == 200 and (await resp.json())["dn"] == "5001"
    async with bridge.http.get(bridge.url(f"/api/calls/{other}"), headers=headers) as resp:
        assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    async with bridge.http.get(bridge.url("/api/calls/nope"), headers=headers) as resp:
        assert resp.status == 404
    both = bearer(token("sup", "5001", "5002"))
    async with bridge.http.get(bridge.url("/api/calls"), headers=both) as resp:
        assert sorted(c["id"] for c in (await resp.json())["calls"]) == sorted([mine, other])


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "token invalid: missing token"),
    ({"Authorization": "Basic YWdlbnQxOnB3"}, "token invalid: missing token"),
    (bearer(token("agent1", "5001")[:-3] + "AAA"),
     "token bad_signature: hmac token signature does not match"),
    (bearer(token("agent1", "5001", ttl_s=60, now=time.time() - 3600)), "token expired: hmac token expired"),
    (bearer("not-a-token"), "token invalid: malformed token"),
    (bearer("a.b.c"), "token invalid: credential kind jwt is not enabled on this bridge"),
])
async def test_unauthorized(bridge: Bridge, headers: dict[str, str], reason: str) -> None:
    for method, path in (("GET", "/api/calls"), ("GET", "/api/calls/x"), ("POST", "/api/calls/x/actions")):
        async with bridge.http.request(method, bridge.url(path), headers=headers,
                                       json={"action": "hold"}) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await resp.json()) == {"error": "unauthorized", "message": reason}


async def test_action_on_another_agents_call_is_forbidden(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    _, other = await two_calls(bridge, gws_sim)
    async with bridge.http.post(bridge.url(f"/api/calls/{other}/actions"), json={"action": "hangup"},
                                headers=bearer(token("agent1", "5001"))) as resp:
        assert resp.status == 403
    assert gws_sim.operations == []  # nothing reached Genesys
    widget = await bridge.widget(token("agent1", "5001"), "5001")
    await widget.next("snapshot")
    await widget.send({"type": "action", "id": "x1", "call_id": other, "action": "hangup"})
    result = await widget.next("action_result")
    assert result["outcome"] == "rejected" and result["detail"] == "not this agent's call"
    assert gws_sim.operations == []


async def test_socket_refuses_a_dn_outside_the_token(bridge: Bridge) -> None:
    widget = await bridge.widget(token("agent1", "5001"), "5002")
    assert await widget.closed_with() == 4403
    forged = await bridge.widget(token("agent1", "5001")[:-2] + "xx", "5001")
    assert await forged.closed_with() == 4401


async def test_oversized_request_is_413(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    mine, _ = await two_calls(bridge, gws_sim)
    body = b'{"action": "dtmf", "params": {"digits": "' + b"1" * 100_000 + b'"}}'
    async with bridge.http.post(bridge.url(f"/api/calls/{mine}/actions"), data=body,
                                headers={**bearer(token("agent1", "5001")),
                                         "Content-Type": "application/json"}) as resp:
        assert resp.status == 413


async def test_bad_action_body_is_400(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    mine, _ = await two_calls(bridge, gws_sim)
    for body in ({"action": "fly"}, {"action": "blind_transfer"}, {"action": "hold", "extra": 1}):
        async with bridge.http.post(bridge.url(f"/api/calls/{mine}/actions"), json=body,
                                    headers=bearer(token("agent1", "5001"))) as resp:
            assert resp.status == 400, body
            assert (await resp.json())["error"] == "bad_request"


async def test_flood_gets_429(bridge_factory: BridgeFactory, closed_port: int) -> None:
    bridge = await bridge_factory(ami_port=closed_port, auth={
        "token_secret": "web-test-token-secret-0123456789", "rate_limit": {"per_second": 1.0, "burst": 5}})
    flooder, other = bearer(token("agent1", "5001")), bearer(token("agent2", "5002"))
    statuses = []
    for _ in range(12):
        async with bridge.http.get(bridge.url("/api/calls"), headers=flooder) as resp:
            statuses.append(resp.status)
            if resp.status == 429:
                assert resp.headers["Retry-After"] == "1"
    assert statuses[:5] == [200] * 5 and statuses.count(429) >= 6
    async with bridge.http.get(bridge.url("/api/calls"), headers=other) as resp:
        assert resp.status == 200  # the limit is per token


async def test_origin_allow_list_and_cors(bridge: Bridge) -> None:
    headers = bearer(token("agent1", "5001"))
    evil = {**headers, "Origin": "http://evil.test"}
    async with bridge.http.get(bridge.url("/api/calls"), headers=evil) as r:
        assert r.status == 403
    async with bridge.http.get(bridge.url("/api/calls"), headers={**headers, "Origin": ALLOWED_ORIGIN}) as r:
        assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    async with bridge.http.options(bridge.url("/api/calls/x/actions"), headers={
            "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}) as r:
        assert r.status == 204 and "POST" in r.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    widget = await bridge.widget(token("agent1", "5001"), "5001", origin="http://evil.test")
    closing = await widget.ws.receive(timeout=5)
    assert (closing.type, closing.data, closing.extra) == (
        aiohttp.WSMsgType.CLOSE, 4403, "origin_not_allowed")
    assert bridge.components.hub.stats.refusals == {"origin_not_allowed": 1}


async def test_widget_snapshot_then_deltas(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    mine, _ = await two_calls(bridge, gws_sim)
    widget = await bridge.widget(token("agent1", "5001"), "5001", origin=ALLOWED_ORIGIN)
    snapshot = await widget.next("snapshot")
    assert [c["id"] for c in snapshot["calls"]] == [mine] and snapshot["dn"] == "5001"
    sim_call = gws_sim.calls_of("5001")[0]
    gws_sim.set_state(sim_call.id, "Established")
    delta = await widget.next("delta", where=lambda d: d["call"]["state"] == "established")
    assert delta["seq"] > snapshot["seq"] and delta["call"]["id"] == mine


async def test_http_and_socket_actions_are_confirmed(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    """Hold over HTTP, retrieve over the socket: Genesys (the simulator) carries them out, the
    bridge confirms once the call's unified state shows the result."""
    mine, _ = await two_calls(bridge, gws_sim)
    sim_call = gws_sim.calls_of("5001")[0]
    gws_sim.set_state(sim_call.id, "Established")
    await until(lambda: "hold" in (bridge.components.pipeline.correlator.call(mine) or {}).get("actions", ()))
    async with bridge.http.post(bridge.url(f"/api/calls/{mine}/actions"), json={"action": "hold"},
                                headers=bearer(token("agent1", "5001"))) as resp:
        assert resp.status == 200
        result = await resp.json()
    assert result["ok"] and result["outcome"] == "confirmed", result
    assert result["latency_ms"] > 0
    assert [op.name for op in gws_sim.operations] == ["Hold"]
    widget = await bridge.widget(token("agent1", "5001"), "5001")
    await widget.next("snapshot")
    await widget.send({"type": "action", "id": "r1", "call_id": mine, "action": "retrieve"})
    result = await widget.next("action_result")
    assert result == {**result, "id": "r1", "ok": True, "outcome": "confirmed"}
    assert bridge.components.pipeline.correlator.call(mine)["state"] == "established"  # type: ignore[index]


async def test_action_rejected_when_not_allowed_now(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    mine, _ = await two_calls(bridge, gws_sim)  # ringing: no retrieve
    async with bridge.http.post(bridge.url(f"/api/calls/{mine}/actions"), json={"action": "retrieve"},
                                headers=bearer(token("agent1", "5001"))) as resp:
        result = await resp.json()
    assert result["outcome"] == "rejected" and not result["ok"] and "not allowed" in result["detail"]


async def test_action_failed_when_genesys_refuses(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    mine, _ = await two_calls(bridge, gws_sim)
    gws_sim.set_state(gws_sim.calls_of("5001")[0].id, "Established")
    await until(lambda: "hold" in (bridge.components.pipeline.correlator.call(mine) or {}).get("actions", ()))
    gws_sim.fail_next(500, endpoint="call_op")
    async with bridge.http.post(bridge.url(f"/api/calls/{mine}/actions"), json={"action": "hold"},
                                headers=bearer(token("agent1", "5001"))) as resp:
        result = await resp.json()
    assert result["outcome"] == "failed" and result["detail"].startswith("GWS:"), result


async def test_readyz_detail_only_with_a_token_and_only_its_dns(bridge: Bridge, gws_sim: GwsSimulator
                                                               ) -> None:
    await until(lambda: all(gws_sim.subscribed(a.dn) for a in AGENTS))
    await until(lambda: all(s.status == "connected" for s in bridge.components.role.sources.gws.status()))  # type: ignore[union-attr]
    async with bridge.http.get(bridge.url("/livez")) as resp:
        assert resp.status == 200 and await resp.json() == {"status": "alive"}
    async with bridge.http.get(bridge.url("/readyz")) as resp:
        assert resp.status == 503  # Asterisk is down
        assert await resp.json() == {"status": "not_ready"}  # no usernames, no DNs without a token
    async with bridge.http.get(bridge.url("/readyz"), headers=bearer("forged.token")) as resp:
        assert resp.status == 401
    async with bridge.http.get(bridge.url("/readyz"), headers=bearer(token("agent1", "5001"))) as resp:
        text = await resp.text()
        assert resp.status == 503
    ready = await resp.json()
    assert ready["status"] == "not_ready" and any(r.startswith("AMI ") for r in ready["reasons"])
    assert ready["ami"]["ready"] is False and ready["ami"]["link"] in ("starting", "lost")
    assert [(s["username"], s["dn"], s["status"]) for s in ready["gws"]] == [("agent1", "5001", "connected")]
    assert ready["store"] == {"kind": "memory", "ok": True, "fallback_active": False, "failures": 0}
    assert ready["ownership"]["owner"] is True
    assert not any(secret in text for secret in SECRETS)
    assert "agent2" not in text and "5002" not in text


async def test_metrics(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    mine, _ = await two_calls(bridge, gws_sim)
    widget = await bridge.widget(token("agent1", "5001"), "5001")
    await widget.next("snapshot")
    gws_sim.publish_raw("5001", "/v2/me/calls", "garbage")
    await until(lambda: bridge.components.metrics.parse_errors.labels("gws")._value.get() >= 1)
    await widget.send({"type": "action", "id": "a", "call_id": mine, "action": "retrieve"})
    await widget.next("action_result")
    async with bridge.http.get(bridge.url("/metrics")) as resp:
        assert resp.status == 200 and resp.content_type == "text/plain"
        text = await resp.text()
    assert 'ctibridge_events_in_total{source="gws",type="GwsCallUpdate"}' in text
    assert 'ctibridge_parse_errors_total{source="gws"} 1.0' in text
    assert "ctibridge_deltas_out_total" in text
    assert "ctibridge_widget_clients 1.0" in text
    assert 'ctibridge_action_outcomes_total{action="retrieve",outcome="rejected"} 1.0' in text
    assert 'ctibridge_action_latency_seconds_count{action="retrieve"} 1.0' in text
    for family in ("ctibridge_divergences", "ctibridge_reconnects", "ctibridge_repairs"):
        assert f"# HELP {family}" in text
    assert not any(secret in text for secret in SECRETS)


async def test_openapi_matches_the_routes(bridge: Bridge) -> None:
    async with bridge.http.get(bridge.url("/api/openapi.json")) as resp:
        spec = await resp.json()
    assert spec["openapi"].startswith("3.1")
    app = bridge.server.app
    assert app is not None
    routed = {(r.method.lower(), r.resource.canonical) for r in app.router.routes()
              if r.resource is not None and not r.resource.canonical.startswith("/widget")
              and r.method != "HEAD"}
    described = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert routed == described
    schemas = spec["components"]["schemas"]
    assert {"CallView", "ActionResult", "ActionRequest", "ReadinessDetail", "ErrorBody"} <= set(schemas)
    post = spec["paths"]["/api/calls/{call_id}/actions"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ActionRequest"}
    assert post["security"] == [{"agentToken": []}]
    assert schemas["ActionResult"]["properties"]["outcome"]["enum"] == ["confirmed", "rejected", "failed",
                                                                        "timeout"]


async def test_widget_files_are_served(bridge: Bridge) -> None:
    async with bridge.http.get(bridge.url("/widget/")) as resp:
        assert resp.status == 200 and "<html" in (await resp.text()).lower()
    async with bridge.http.get(bridge.url("/widget/vendor/sip.js/index.js")) as resp:
        assert resp.status == 200 and "export" in await resp.text()
    async with bridge.http.get(bridge.url("/widget/../pyproject.toml")) as resp:
        assert resp.status in (403, 404)


async def test_oversized_widget_frame_closes_1009(bridge: Bridge) -> None:
    widget = await bridge.widget(token("agent1", "5001"), "5001")
    await widget.next("snapshot")
    await widget.ws.send_str('{"type": "ping", "pad": "' + "x" * 70_000 + '"}')
    assert await widget.closed_with() == 1009


async def test_gws_reconnect_is_counted_by_link(bridge: Bridge, gws_sim: GwsSimulator) -> None:
    await until(lambda: all(gws_sim.subscribed(a.dn) for a in AGENTS))
    reconnects = bridge.components.metrics.reconnects
    gws_sim.drop_sessions()
    await until(lambda: reconnects.labels("gws:5001")._value.get() >= 1, within=15.0, what="reconnect")
    assert bridge.components.pipeline.links["gws:5001"] == "connected"


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made by openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_tls(bridge_factory: BridgeFactory, closed_port: int, self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    trust = ssl.create_default_context(cafile=str(cert))
    bridge = await bridge_factory(ami_port=closed_port, client_ssl=trust,
                                  tls={"cert_file": str(cert), "key_file": str(key)})
    assert bridge.url("/livez").startswith("https://")
    async with bridge.http.get(bridge.url("/readyz"), headers=bearer(token("agent1", "5001"))) as resp:
        assert (await resp.json())["ownership"]["owner"] is True
    widget = await bridge.widget(token("agent1", "5001"), "5001")  # wss://
    assert (await widget.next("snapshot"))["dn"] == "5001"
    async with aiohttp.ClientSession() as untrusting:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await untrusting.get(bridge.url("/livez"))


async def test_action_failed_when_genesys_does_not_answer(bridge_factory: BridgeFactory, closed_port: int,
                                                          gws_sim: GwsSimulator) -> None:
    bridge = await bridge_factory(ami_port=closed_port, actions={"step_timeout_s": 0.5})
    mine, _ = await two_calls(bridge, gws_sim)
    gws_sim.set_state(gws_sim.calls_of("5001")[0].id, "Established")
    await until(lambda: "hold" in (bridge.components.pipeline.correlator.call(mine) or {}).get("actions", ()))
    gws_sim.stall_next("call_op")
    async with bridge.http.post(bridge.url(f"/api/calls/{mine}/actions"), json={"action": "hold"},
                                headers=bearer(token("agent1", "5001"))) as resp:
        result = await resp.json()
    assert (result["outcome"], result["detail"]) == ("failed", "GWS: no answer within 0.5 s")
