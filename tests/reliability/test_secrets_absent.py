"""No secret in the logs (every logger at DEBUG, the access log included), the event log, /health or
/metrics, over a full service start that really logs in (the AMI simulator checks the AMI secret,
the GWS simulator the agents' passwords), carries a call and an action, over widgets signing in
with a WWE JWT, a GWS session cookie and bad credentials (and receiving their SIP password), and
over a refused AMI login."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from service_rig import AGENTS, AMI_SECRET, ORIGIN, SECRETS, WITHIN, running_service

from ctibridge.gateway.settings import webrtc_password
from ctibridge.logs.eventlog import read_records
from ctibridge.sim.gws.auth import bridge_jwt_section


def leaked(text: str, secrets: tuple[str, ...]) -> list[str]:
    return [s for s in secrets if s in text]


async def test_no_secret_in_logs_event_log_health_or_metrics(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    event_log = tmp_path / "events.jsonl"
    async with running_service(event_log=event_log) as rig:
        call = rig.gws.call_ringing("5001", ani="+15550001000")
        bearer = {"Authorization": f"Bearer {rig.token('a', '5001')}"}
        async with rig.http.get(rig.url("/api/calls"), headers=bearer) as resp:
            assert resp.status == 200
        widget = await rig.widget("agent1", "5001")
        texts = []
        for path in ("/readyz", "/metrics"):
            async with rig.http.get(rig.url(path), headers=bearer) as resp:
                texts.append(await resp.text())
        await widget.close()
        assert call
    assert "ctibridge_events_in_total" in texts[1] and '"ami"' in texts[0]
    assert leaked("\n".join(texts), SECRETS) == []
    assert leaked(caplog.text, SECRETS) == [], "a secret in the logs"
    log_text = event_log.read_text()
    assert leaked(log_text, SECRETS) == [], "a secret in the event log"
    logins = [r.msg for r in read_records(event_log) if r.dir == "out" and r.msg.get("Action") == "Login"]
    assert logins and all(m["Secret"] == "********" for m in logins)
    assert len(caplog.records) > 10  # the logs were really captured


async def test_refused_ami_login_leaks_neither_secret(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-ami-secret-3f9c1d"
    async with running_service(ami_secret=wrong, wait_ready=False, event_log=tmp_path / "e.jsonl") as rig:
        deadline = time.monotonic() + WITHIN
        # the refusal is seen only in the logs: poll them, bounded by the deadline
        while "authentication failed" not in caplog.text.lower() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        detail = {"Authorization": f"Bearer {rig.token('a', '5001')}"}
        async with rig.http.get(rig.url("/readyz"), headers=detail) as resp:
            health = await resp.text()
            assert resp.status == 503
    assert "authentication failed" in caplog.text.lower(), "the refused login was never reported"
    for text in (caplog.text, health, (tmp_path / "e.jsonl").read_text()):
        assert leaked(text, (wrong, AMI_SECRET, *SECRETS)) == []


WEBRTC_SECRET = "secrets-webrtc-secret-c0ffee42"


async def test_no_credential_of_a_signing_in_widget_is_logged(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    event_log = tmp_path / "events.jsonl"
    auth = lambda gws: {"verifiers": ["hmac", "jwt", "session"], "session": {"cache_s": 0},  # noqa: E731
                        "jwt": bridge_jwt_section(gws), "sip": {"webrtc_secret": WEBRTC_SECRET}}
    async with running_service(event_log=event_log, auth=auth) as rig:
        cookie = await rig.sign_in(AGENTS[0])
        token = await rig.wwe_jwt(cookie)
        expired = rig.gws.issuer.issue(AGENTS[0], ttl_s=-120)
        sockets = [await rig.hello("5001", {"kind": "jwt", "token": token}),
                   await rig.hello("5001", {"kind": "session"}, cookie=cookie),
                   await rig.hello("5001", {"kind": "jwt", "token": expired}),
                   await rig.hello("5002", {"kind": "session"}, cookie=cookie),
                   await rig.hello("5001", {"kind": "jwt", "token": token}, origin="http://evil.test")]
        firsts = [await ws.receive(timeout=WITHIN) for ws in sockets]
        async with rig.http.get(rig.url(f"/api/calls?token={token}"),
                                headers={"Authorization": f"Bearer {token}", "Origin": ORIGIN,
                                         "Referer": f"{ORIGIN}/?token={token}"}) as resp:
            assert resp.status == 200
        texts = []
        for path in ("/health", "/metrics"):
            async with rig.http.get(rig.url(path)) as resp:
                texts.append(await resp.text())
        for ws in sockets:
            await ws.close()
    sip_password = webrtc_password(WEBRTC_SECRET, "5001")
    assert [f.json()["type"] for f in firsts[:2]] == ["sip_credentials"] * 2
    assert sip_password in firsts[0].data  # handed to the phone over the verified socket, nowhere else
    assert [f.extra for f in firsts[2:]] == ["expired", "dn_not_allowed", "origin_not_allowed"]
    secrets = (*SECRETS, WEBRTC_SECRET, sip_password, token, expired, cookie)
    access = [r for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/api/calls ?<redacted>" in r.getMessage() for r in access), "the access log was captured"
    assert leaked(caplog.text, secrets) == [], "a credential in the logs"
    assert leaked("\n".join(texts), secrets) == []
    assert leaked(event_log.read_text(), secrets) == [], "a credential in the event log"
