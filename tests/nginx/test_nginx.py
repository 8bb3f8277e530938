"""docker/nginx.conf under Debian's nginx, in front of the real bridge (served as ``ctibridge run``
serves it) and the Asterisk 22 sandbox, with a throwaway CA: Chromium loads the widget over TLS,
follows its calls over WSS ``/ws``, registers its phone over WSS ``/asterisk-ws``, and answers a
call from Genesys (sipp) with audio. What the public listener must not offer (/metrics, /readyz,
/livez) answers 404, the security headers are on the widget, and no log holds a secret.

The configuration is the project's file with only its ports and paths replaced (free ports,
files in a temp dir). One more replacement: the lab gateway offers its WebSocket as plain ws on
loopback (no certificate in the sandbox), so nginx reaches Asterisk with http:// instead of
https://; the browser's side is TLS all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import Browser, Page, Playwright, async_playwright, expect
from pydantic import SecretStr
from widget.widget_server import sign_in

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.config import Settings
from ctibridge.identity.hmac_token import mint
from ctibridge.service.assemble import build
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.lab_gateway import GenesysMirror
from ctibridge.sim.sipp import Sipp
from ctibridge.web.app import create_app
from ctibridge.web.serve import serving
from tools.local_services import free_port

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CHROMIUM = "/usr/bin/chromium"
# tests/widget/conftest.py's browser flags (real media on loopback, no device prompts)
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 "--allow-loopback-in-peer-connection"]
DN = "5001"
CALL_UUID = "G2BL4NGINXTEST00000000000000001"
WITHIN = 15.0


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    spki_sha256: str  # base64: what Chromium is told to accept (it has no CA store of ours)


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, check=True, capture_output=True).stdout


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A throwaway CA and a certificate for 127.0.0.1 it signed."""
    names = ("ca.key", "ca.pem", "key.pem", "req.csr", "cert.pem")
    ca_key, ca, key, csr, cert = (tmp_path / name for name in names)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
             "-subj", "/CN=ctibridge test CA", "-keyout", str(ca_key), "-out", str(ca))
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    extensions = tmp_path / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "1", "-extfile", str(extensions), "-out", str(cert))
    public = _openssl("pkey", "-in", str(key), "-pubout", "-outform", "der")
    digest = _openssl("dgst", "-sha256", "-binary", stdin=public)
    return Pki(ca, cert, key, _openssl("base64", "-A", stdin=digest).decode())


def nginx_config(workdir: Path, pki: Pki, port: int, bridge_port: int, asterisk_ws_port: int) -> Path:
    text = (ROOT / "docker" / "nginx.conf").read_text()
    for old, new in (
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{bridge_port};"),
        ("server 127.0.0.1:8089;", f"server 127.0.0.1:{asterisk_ws_port};"),
        ("proxy_pass https://asterisk_wss/ws;", "proxy_pass http://asterisk_wss/ws;"),
        ("/etc/nginx/tls/fullchain.pem", str(pki.cert)),
        ("/etc/nginx/tls/privkey.pem", str(pki.key)),
        ("/var/log/nginx/access.log", str(workdir / "access.log")),
        ("worker_processes auto;", f"worker_processes 1;\nerror_log {workdir / 'error.log'} info;\n"
                                   f"pid {workdir / 'nginx.pid'};"),
        ("http {", f"http {{\n    client_body_temp_path {workdir}/body;\n"
                   f"    proxy_temp_path {workdir}/proxy;"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    config = workdir / "nginx.conf"
    config.write_text(text)
    return config


@contextlib.contextmanager
def running_nginx(config: Path, port: int) -> Iterator[None]:
    checked = subprocess.run([NGINX, "-t", "-c", str(config), "-g", "user root;"],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([NGINX, "-c", str(config), "-g", "daemon off; user root;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + WITHIN
        while True:  # no event says nginx listens: try to connect, bounded
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            assert time.monotonic() < deadline, "nginx does not listen"
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Site:
    base: str  # https://127.0.0.1:<nginx port>
    bridge: str  # the bridge itself, on loopback
    token: str
    sip_password: str
    secrets: tuple[str, ...]
    workdir: Path


@pytest.fixture
def gws_up() -> bool:
    return True


@pytest.fixture
async def site(asterisk: LabAsterisk, pki: Pki, tmp_path: Path, gws_up: bool) -> AsyncIterator[Site]:
    """GWS simulator + its SIP Server stand-in, the bridge, nginx in front of both. Without
    ``gws_up`` GWS is down from the start (the bridge is alive but not ready)."""
    gws = GwsSimulator([SimAgent(f"agent{DN}", secrets.token_hex(8), DN)])
    await gws.start("127.0.0.1")
    if not gws_up:
        await gws.stop()  # its address stays in the settings: connection refused
    mirror = GenesysMirror(gws)
    sip_server = AmiClient(AmiSettings(port=asterisk.ami_port, username=asterisk.ami_user,
                                       secret=SecretStr(asterisk.ami_secret)),
                           on_message=mirror.on_ami, on_link=lambda *_: None)
    nginx_port, token_secret = free_port(), secrets.token_urlsafe(32)
    public = f"https://127.0.0.1:{nginx_port}"
    settings = Settings.model_validate({
        "listen": {"port": 0},
        "http": {"proxies": ["127.0.0.1"]},
        "ami": {"port": asterisk.ami_port, "username": asterisk.ami_user, "secret": asterisk.ami_secret,
                "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "gws": {"base_url": gws.base_url, "agents": [
            {"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
            for a in gws.agents.values()]},
        "gateway": {"dns": [DN]},
        "auth": {"token_secret": token_secret, "allowed_origins": [public],
                 "sip": {"webrtc_secret": asterisk.settings.webrtc_secret.get_secret_value()}},
        "log": {"event_log": str(tmp_path / "events.jsonl")},
    })
    components = build(settings)
    sock = socket.create_server(("127.0.0.1", 0))
    bridge_port = sock.getsockname()[1]
    config = nginx_config(tmp_path, pki, nginx_port, bridge_port, asterisk.settings.http_port)
    await sip_server.start(timeout_s=10)
    try:
        async with serving(create_app(settings, components=components), settings, sock):
            async with asyncio.timeout(WITHIN):
                while components.pipeline.links.get("ami") != "connected" or (  # noqa: ASYNC110
                        gws_up and not gws.subscribed(DN)):
                    await asyncio.sleep(0.05)  # no event says the links are up: poll, bounded
            if gws_up:
                gws.set_agent_state(DN, "Ready")
            with running_nginx(config, nginx_port):
                token = mint(settings.auth.secret_bytes, f"agent{DN}", [DN], 3600, time.time())
                password = asterisk.settings.password(DN)
                yield Site(public, f"http://127.0.0.1:{bridge_port}", token, password,
                           (token, password, token_secret, asterisk.ami_secret,
                            *(a.password for a in gws.agents.values())), tmp_path)
    finally:
        await sip_server.close()
        if gws_up:
            await gws.stop()


async def test_public_listener_headers_and_what_it_hides(site: Site, pki: Pki) -> None:
    trust = ssl.create_default_context(cafile=str(pki.ca))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as http:
        async with http.get(f"{site.base}/widget/?dn={DN}&token={site.token}") as resp:
            assert resp.status == 200 and resp.url.path == "/widget/"
            headers = resp.headers
        policy = headers["Content-Security-Policy"]
        for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'",
                          "frame-ancestors 'self'", "object-src 'none'", "base-uri 'none'"):
            assert directive in policy, policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
        assert "Server" not in headers or "nginx/" not in headers["Server"]  # no version
        async with http.get(f"{site.base}/", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].endswith("/widget/")
        auth = {"Authorization": f"Bearer {site.token}"}
        for hidden in ("/metrics", "/readyz", "/livez", "/health", "/widget/README.md"):
            async with http.get(f"{site.base}{hidden}", headers=auth) as resp:
                assert resp.status == 404, hidden
        async with http.get(f"{site.base}/api/calls", headers=auth) as resp:
            assert resp.status == 200  # the API is public, behind its token
    async with aiohttp.ClientSession() as untrusting:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await untrusting.get(f"{site.base}/widget/")


async def browser_page(pw: Playwright, pki: Pki) -> tuple[Browser, Page]:
    browser = await pw.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={pki.spki_sha256}"])
    return browser, await browser.new_page(viewport={"width": 300, "height": 500})


async def open_widget(page: Page, site: Site) -> None:
    """The agent opens the widget and signs in with its token (typed, never in the URL); the bridge
    answers with the DN's SIP credentials, and the phone registers through nginx."""
    await page.goto(f"{site.base}/widget/?dn={DN}&sipDomain=127.0.0.1")
    await sign_in(page, site.token)


@pytest.mark.parametrize("gws_up", [False])
async def test_phones_register_while_gws_is_down(site: Site, pki: Pki) -> None:
    """A GWS outage makes the bridge not ready, never the gateway unreachable: nginx does not wait
    for the bridge (compose), the bridge's health check is /livez, and /asterisk-ws goes straight
    to Asterisk."""
    trust = ssl.create_default_context(cafile=str(pki.ca))
    connector = aiohttp.TCPConnector(ssl=trust)
    async with aiohttp.ClientSession(connector=connector) as http, async_playwright() as pw:
        browser, page = await browser_page(pw, pki)
        try:
            await open_widget(page, site)
            await expect(page.locator("#phone-status")).to_have_attribute(
                "data-status", "registered", timeout=10000)
        finally:
            await browser.close()
        async with http.get(f"{site.bridge}/readyz") as resp:
            assert resp.status == 503  # not ready: GWS is down
        async with http.get(f"{site.bridge}/livez") as resp:
            assert resp.status == 200  # alive: what the container's health check asks


async def test_call_through_nginx_tls(site: Site, pki: Pki, sipp: Sipp,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with async_playwright() as pw:
        browser, page = await browser_page(pw, pki)
        try:
            await open_widget(page, site)
            assert page.url.startswith("https://")
            await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "live")  # WSS /ws
            await expect(page.locator("#phone-status")).to_have_attribute(
                "data-status", "registered", timeout=10000)  # WSS /asterisk-ws
            call = await sipp.genesys_call(DN, CALL_UUID, flow="talk", pause_ms=4000, caller="+15550001000")
            card = page.locator(f'article[data-call-uuid="{CALL_UUID}"]')
            await expect(card).to_have_attribute("data-state", "ringing")
            await card.get_by_role("button", name="Answer").click()
            await expect(card).to_have_attribute("data-state", "established")
            await expect(card.locator(".media")).to_have_attribute("data-ice", "connected")
            assert (await call.wait(15)).ok
            await expect(page.locator("article")).to_have_count(0, timeout=10000)
        finally:
            await browser.close()
    access = (site.workdir / "access.log").read_text()
    assert '"GET /widget/ HTTP/' in access and "/asterisk-ws" in access and '"GET /ws HTTP/' in access
    logs = {"nginx access": access, "nginx error": (site.workdir / "error.log").read_text(),
            "bridge": caplog.text, "event log": (site.workdir / "events.jsonl").read_text()}
    for name, text in logs.items():
        assert not [s for s in site.secrets if s in text], f"a secret in the {name} log"
