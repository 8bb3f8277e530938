"""No secret in the logs (every logger at DEBUG), the event log, /readyz or /metrics, over a full
service start that really logs in (the AMI simulator checks the AMI secret, the GWS simulator the
agents' passwords), carries a call and an action, and over a refused AMI login."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from service_rig import AMI_SECRET, SECRETS, WITHIN, running_service

from ctibridge.logs.eventlog import read_records


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
