"""Debian nginx in front of the bridge with the access-log format of docs/widget-deploy.md: a
``?token=`` in a request, a Referer with a token, a cookie and an Authorization header leave no
trace in nginx's access log, while the requests themselves are logged."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import aiohttp
from service_rig import Rig, running_service

from tools.local_services import free_port, wait_for_port

DEPLOY_DOC = Path(__file__).parents[2] / "docs" / "widget-deploy.md"
SECRETS = ("query-secret-41d0", "referer-secret-9e2a", "cookie-secret-c7b3", "bearer-secret-5f68")


def documented_log_format() -> str:
    match = re.search(r"^log_format noquery .*;$", DEPLOY_DOC.read_text(), re.M)
    assert match, "docs/widget-deploy.md lost its log_format noquery line"
    return match.group(0)


def nginx_conf(tmp_path: Path, port: int, upstream: int, access_log: Path) -> Path:
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    {documented_log_format()}
    server {{
        listen 127.0.0.1:{port};
        access_log {access_log} noquery;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }}
    }}
}}
""")
    return conf


async def test_nginx_access_log_keeps_no_secret(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port, access_log = free_port(), tmp_path / "access.log"
    async with running_service(wait_ready=False) as rig:
        upstream = rig.server.port
        assert upstream is not None
        conf = nginx_conf(tmp_path, port, upstream, access_log)
        process = await asyncio.create_subprocess_exec(
            nginx, "-e", str(tmp_path / "error.log"), "-p", str(tmp_path), "-c", str(conf),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.to_thread(wait_for_port, port)
            await requests_with_secrets(rig, f"http://127.0.0.1:{port}")
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)
    text = access_log.read_text()
    assert '"GET /api/calls" 401' in text and '"GET /widget/" 200' in text, text
    assert [s for s in SECRETS if s in text] == [], text


async def requests_with_secrets(rig: Rig, base: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/calls?token={SECRETS[0]}", headers={
                "Referer": f"http://wwe.test/?token={SECRETS[1]}", "Cookie": f"JSESSIONID={SECRETS[2]}",
                "Authorization": f"Bearer {SECRETS[3]}"}) as resp:
            assert resp.status == 401
        async with http.get(f"{base}/widget/?dn=5001&token={SECRETS[0]}") as resp:
            assert resp.status == 200
