"""``ctibridge run`` logs every request at INFO (``aiohttp.access``) without a secret: no query
string (a ``?token=``), no Referer (the widget page's URL), no cookie, no Authorization."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from ctibridge.identity.hmac_token import mint
from tools.local_services import free_port, wait_for_port

TOKEN_SECRET = "access-log-token-secret-51c2e0"
WITHIN = 15.0


async def test_run_access_log_names_requests_but_no_secret(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "bridge.toml"
    config.write_text(f'[listen]\nport = {port}\n[ami]\nport = {free_port()}\nusername = "ctibridge"\n'
                      f'[gws]\nbase_url = "http://127.0.0.1:{free_port()}"\n'
                      '[auth]\nallowed_origins = ["http://wwe.test"]\n')
    env = {**os.environ, "CTIBRIDGE_AUTH__TOKEN_SECRET": TOKEN_SECRET, "CTIBRIDGE_AMI__SECRET": "ami-5e2b"}
    agent_token = mint(TOKEN_SECRET.encode(), "agent1", ["5001"], 3600, time.time())
    secrets = (TOKEN_SECRET, agent_token, "query-secret-0a9f", "referer-secret-7c1d", "cookie-secret-33e8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ctibridge.cli", "run", "--config", str(config), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await asyncio.to_thread(wait_for_port, port, WITHIN)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/api/calls?token=query-secret-0a9f",
                                headers={"Authorization": f"Bearer {agent_token}",
                                         "Referer": "http://wwe.test/?dn=5001&token=referer-secret-7c1d",
                                         "Cookie": "JSESSIONID=cookie-secret-33e8"}) as resp:
                assert resp.status == 200
            async with http.get(f"{base}/widget/?dn=5001&token={agent_token}") as resp:
                assert resp.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WITHIN):
            output, _ = await process.communicate()
    text = output.decode()
    access = [line for line in text.splitlines() if "aiohttp.access" in line]
    assert any('"GET /api/calls ?<redacted>" 200' in line for line in access), text[-2000:]
    assert any('"GET /widget/ ?<redacted>" 200' in line for line in access), text[-2000:]
    assert [s for s in secrets if s in text] == []
