"""`ctibridge run --config FILE` as a real process: serves, writes a replayable event log, stops
cleanly on SIGTERM; `ctibridge check-config` and `ctibridge token` through the CLI."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from webharness import (
    AGENTS,
    SECRETS,
    TOKEN_SECRET,
    bearer,
    config_text,
    env_with_secrets,
    token,
    until,
    until_answer,
)

from ctibridge.identity.hmac_token import HmacTokenVerifier
from ctibridge.logs.eventlog import read_records
from ctibridge.logs.replay import replay
from ctibridge.sim.gws import GwsSimulator
from tools.local_services import free_port

WITHIN = 15.0


def ctibridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ctibridge.cli", *args], capture_output=True, text=True,
                          env=env_with_secrets(), timeout=60, check=False)


async def test_run_serves_logs_and_stops_on_sigterm(tmp_path: Path, gws_sim: GwsSimulator) -> None:
    port, event_log = free_port(), tmp_path / "events.jsonl"
    config = tmp_path / "bridge.toml"
    config.write_text(config_text(gws_sim.base_url, port, free_port(), event_log))
    checked = ctibridge("check-config", str(config))
    assert checked.returncode == 0 and checked.stdout.startswith("OK"), checked.stderr
    assert not any(secret in checked.stdout for secret in SECRETS)

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ctibridge.cli", "run", "--config", str(config),
        env={**env_with_secrets(), "CTIBRIDGE_LOG__FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await until(lambda: all(gws_sim.subscribed(a.dn) for a in AGENTS), within=WITHIN,
                    what="the service's GWS sessions")
        call_id = gws_sim.call_ringing("5001", ani="+15550001000")
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:

            async def api_calls() -> list[dict[str, Any]]:
                async with http.get(f"{base}/api/calls", headers=bearer(token("agent1", "5001"))) as resp:
                    assert resp.status == 200
                    return list((await resp.json())["calls"])

            calls = await until_answer(api_calls, within=WITHIN, what="the call in the service's API")
            assert [c["call_uuid"] for c in calls] == [call_id]
            async with http.post(f"{base}/api/calls/{calls[0]['id']}/actions", json={"action": "answer"},
                                 headers=bearer(token("agent1", "5001"))) as resp:
                assert (await resp.json())["outcome"] == "confirmed"
            async with http.get(f"{base}/readyz", headers=bearer(token("agent1", "5001"))) as resp:
                health_text = await resp.text()
            assert '"owner":true' in health_text
            assert not any(secret in health_text for secret in SECRETS)
            await serves_the_pages(http, base, calls[0]["id"])
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WITHIN):
            output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()[-2000:]
    assert not any(secret in output.decode() for secret in SECRETS)
    lines = [json.loads(line) for line in output.decode().splitlines()]  # one JSON object per line
    assert any(f"listening on http://127.0.0.1:{port}" in line["msg"] for line in lines)
    (audit,) = [line for line in lines if line["logger"] == "ctibridge.audit"]
    assert {k: audit[k] for k in ("agent", "action", "call_id", "dn", "outcome")} == {
        "agent": "agent1", "action": "answer", "call_id": calls[0]["id"], "dn": "5001",
        "outcome": "confirmed"}

    records = list(read_records(event_log))
    kinds = {(r.src, r.dir) for r in records}
    assert {("gws", "in"), ("gws", "meta"), ("gws", "out"), ("bridge", "out")} <= kinds
    assert [r.msg for r in records if (r.src, r.dir) == ("gws", "out")] == [
        {"operationName": "Answer", "id": call_id}]
    replayed = replay(records).correlator.calls()
    live = [r.msg["call"] for r in records if r.src == "bridge"]
    assert [(c["id"], c["call_uuid"], c["state"]) for c in replayed] == [
        (live[-1]["id"], call_id, live[-1]["state"])]  # the log reproduces the live state


async def serves_the_pages(http: aiohttp.ClientSession, base: str, call_id: str) -> None:
    """What the docs send operators to: the widget (with SIP.js), the operator page, a call's
    timeline; the token is checked before the call is even looked up."""
    async with http.get(f"{base}/") as resp:
        assert resp.status == 200 and resp.url.path == "/widget/" and "ctibridge phone" in await resp.text()
    async with http.get(f"{base}/widget/vendor/sip.js/index.js") as resp:
        assert resp.status == 200 and "LIBRARY_VERSION" in await resp.text()
    async with http.get(f"{base}/operator?token=x") as resp:
        assert resp.status == 200 and "script-src 'self'" in resp.headers["Content-Security-Policy"]
    async with http.get(f"{base}/operator.js") as resp:
        assert resp.status == 200 and "/readyz" in await resp.text()
    timeline = f"{base}/calls/{call_id}/timeline"
    async with http.get(timeline, params={"token": token("agent1", "5001")}) as resp:
        page = await resp.text()
        assert resp.status == 200, page
    assert f"Call {call_id}" in page and "Answer" in page and "Widget deltas" in page
    async with http.get(timeline, params={"token": token("agent2", "5002")}) as resp:
        assert resp.status == 403
    for path in (timeline, f"{base}/calls/no-such-call/timeline"):
        async with http.get(path, params={"token": "junk"}) as resp:
            assert resp.status == 401  # not 404: nothing is looked up before the token is good
    mine = {"token": token("agent1", "5001")}
    async with http.get(f"{base}/calls/no-such-call/timeline", params=mine) as resp:
        assert resp.status == 404


def test_token_command_makes_a_token_the_service_accepts() -> None:
    minted = ctibridge("token", "--agent", "agent1", "--dn", "5001", "--ttl", "1h")
    assert minted.returncode == 0, minted.stderr
    claims = HmacTokenVerifier(TOKEN_SECRET.encode()).verify_now(minted.stdout.strip())
    assert claims.agent == "agent1" and claims.dns == ("5001",)
