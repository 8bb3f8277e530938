"""The real parts of the load run, each started and stopped by the run: the Asterisk 22 sandbox with
agent DNs as plain SIP phones (sipp) and as WebRTC browsers, sipp as the Genesys SIP Server and as
the phones, the bridge service in its own process (``ctibridge run``), the GWS simulator reporting
what SIP Server would (``bench/load_genesys.py``, its own process, which also counts AMI events), and
one widget WebSocket client per DN that notes every state it sees and how late each delta arrives.

Must run in a private network namespace (the lab's fixed ports; see ``load_asterisk.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Page

from ctibridge.gateway.generator import render
from ctibridge.gateway.sandbox import AsteriskSandbox, default_root
from ctibridge.gateway.settings import LAB_PHONE_PORT, GatewaySettings
from ctibridge.identity.hmac_token import mint
from ctibridge.sim.gws import SimAgent
from ctibridge.sim.sipp import GENESYS_PORT, Sipp, _udp_bound
from tools.local_services import free_port

HOST = "127.0.0.1"
CUSTOMER_IP = "127.0.0.2"  # the trunk's identify match: Genesys
PHONE_IP = "127.0.0.3"  # every SIP phone DN's contact
ASTERISK_WS = "ws://127.0.0.1:8088/ws"
SIPP_DIR = Path(__file__).resolve().parent / "sipp"
ORIGIN = f"http://{HOST}"
CUSTOMER_MEDIA_PORT = 40000
PHONE_MEDIA_PORT = 42000

# Agent DNs answered by sipp are plain SIP phones (PCMU RTP, no DTLS/ICE), so audio really flows
# to them; the template goes before the DNs (Asterisk resolves templates in file order).
SIP_PHONE_TEMPLATE = """
[sip-phone](!)
type=endpoint
context=from-webrtc
disallow=all
allow=ulaw
direct_media=no
moh_suggest=ctibridge

"""


def gateway_files(settings: GatewaySettings, phone_dns: list[str]) -> dict[str, str]:
    """The lab configuration, with ``phone_dns`` turned into SIP phones at ``PHONE_IP``."""
    files = render(settings)
    marker = "; ---------------------------------------------------------------- WebRTC agents"
    pjsip = files["pjsip.conf"].replace(marker, SIP_PHONE_TEMPLATE + marker)
    for dn in phone_dns:
        pjsip = pjsip.replace(f"[{dn}](webrtc-agent)\n", f"[{dn}](sip-phone)\n").replace(
            f"[{dn}](webrtc-agent-aor)\n",
            f"[{dn}](webrtc-agent-aor)\ncontact=sip:{dn}@{PHONE_IP}:{LAB_PHONE_PORT}\n")
    return {**files, "pjsip.conf": pjsip}


def lab_gateway_settings(dns: list[str]) -> GatewaySettings:
    return GatewaySettings.model_validate({
        "profile": "lab", "dns": dns, "genesys_host": CUSTOMER_IP,
        "webrtc_secret": secrets.token_hex(12), "ami_secret": secrets.token_hex(12),
        "rtp_end": 19999,  # two ports per channel, two channels per call
    })


# ---------------------------------------------------------------------- sipp for volume
async def sipp(workdir: Path, scenario: str, *args: str) -> asyncio.subprocess.Process:
    """One sipp running ``bench/sipp/<scenario>.xml`` in ``workdir`` (where customer.pcap is)."""
    argv = ["sipp", *args, "-sf", str(SIPP_DIR / f"{scenario}.xml"), "-nostdin",
            "-trace_err", "-error_file", str(workdir / f"{scenario}-errors.log")]
    return await asyncio.create_subprocess_exec(
        *argv, cwd=workdir, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, start_new_session=True)


async def sip_phones(workdir: Path) -> asyncio.subprocess.Process:
    """Every SIP phone DN, answering at once and echoing the RTP it gets, until killed."""
    return await sipp(workdir, "sip_phone", "-i", PHONE_IP, "-p", str(LAB_PHONE_PORT), "-mi", PHONE_IP,
                      "-mp", str(PHONE_MEDIA_PORT), "-rtp_echo")


async def customer_calls(workdir: Path, calls: list[tuple[str, str]], hold_ms: int, rate: float, name: str,
                         port: int, media_port: int, sink_port: int = 0) -> asyncio.subprocess.Process:
    """Genesys offers one call per (DN, CallUUID), ``rate`` new calls a second, each talking
    ``hold_ms`` after the answer while customer.pcap plays. Asterisk's audio goes to sipp's media
    port, or to ``CUSTOMER_IP:sink_port`` (an ``RtpSink``) when given."""
    csv = workdir / f"{name}.csv"
    csv.write_text("SEQUENTIAL\n" + "".join(f"{dn};{uuid};\n" for dn, uuid in calls), encoding="ascii")
    return await sipp(workdir, "customer_call", f"{HOST}:5060", "-inf", str(csv), "-i", CUSTOMER_IP,
                      "-p", str(port), "-mi", CUSTOMER_IP, "-mp", str(media_port), "-m", str(len(calls)),
                      "-l", str(len(calls)), "-r", f"{rate:g}", "-d", str(hold_ms), "-timeout", "300s",
                      "-key", "sink_ip", CUSTOMER_IP, "-key", "sink_port", str(sink_port or media_port),
                      "-trace_msg", "-message_file", str(workdir / f"{name}-messages.log"))


def answered_uuids(message_log: Path) -> set[str]:
    """The X-Genesys-CallUUIDs of the calls a customer sipp saw answered (a 200 OK to its INVITE):
    the SIP side's ground truth, whatever the bridge made of it."""
    uuids: dict[str, str] = {}  # Call-ID -> CallUUID of the INVITE sent
    answered: set[str] = set()
    for block in message_log.read_text(encoding="utf-8", errors="replace").split("\n----"):
        lines = [line.strip() for line in block.splitlines()]
        start = next((line for line in lines if line.startswith(("INVITE ", "SIP/2.0 "))), "")
        headers = dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("-"))
        call_id = headers.get("Call-ID", "").strip()
        if start.startswith("INVITE "):
            uuids[call_id] = headers.get("X-Genesys-CallUUID", "").strip()
        elif start.startswith("SIP/2.0 200") and headers.get("CSeq", "").strip() == "1 INVITE":
            answered.add(call_id)
    return {uuids[c] for c in answered if c in uuids}


async def customer_answers(workdir: Path, call_uuid: str, media_port: int, sink_port: int
                           ) -> asyncio.subprocess.Process:
    """Genesys connects one agent's outbound call to a customer who answers (200 OK with
    ``call_uuid``) and speaks customer.pcap until Asterisk hangs up; Asterisk's audio goes to
    ``CUSTOMER_IP:sink_port``. Returns once sipp listens on the trunk's contact."""
    process = await sipp(workdir, "customer_answer", "-i", CUSTOMER_IP, "-p", str(GENESYS_PORT),
                         "-mi", CUSTOMER_IP, "-mp", str(media_port), "-m", "1", "-key", "call_uuid",
                         call_uuid, "-key", "sink_ip", CUSTOMER_IP, "-key", "sink_port", str(sink_port))
    async with asyncio.timeout(5):
        while not _udp_bound(CUSTOMER_IP, GENESYS_PORT):  # noqa: ASYNC110 (no event says so)
            await asyncio.sleep(0.02)
    return process


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await process.wait()


# ---------------------------------------------------------------------- the bridge
def _toml(value: Any) -> str:
    return json.dumps(value)  # strings, numbers, booleans and lists of them read the same in TOML


def _secret_file(workdir: Path, name: str, value: str) -> str:
    path = workdir / f"{name}.secret"
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def bridge_config(workdir: Path, port: int, ami_secret: str, gws_url: str, agents: list[SimAgent],
                  dns: list[str], webrtc_secret: str) -> Path:
    """``ctibridge run``'s TOML; every secret in a file of its own next to it."""
    lines = [
        "[listen]", f"host = {_toml(HOST)}", f"port = {port}",
        "[ami]", f"host = {_toml(HOST)}", "port = 5038", 'username = "ctibridge"',
        f"secret_file = {_toml(_secret_file(workdir, 'ami', ami_secret))}",
        "reconnect_min_s = 0.2", "reconnect_max_s = 1.0",
        "[gws]", f"base_url = {_toml(gws_url)}",
    ]
    for agent in agents:
        lines += ["[[gws.agents]]", f"agent_id = {_toml(agent.username)}",
                  f"username = {_toml(agent.username)}",
                  f"password_file = {_toml(_secret_file(workdir, agent.username, agent.password))}",
                  f"dn = {_toml(agent.dn)}"]
    lines += [
        "[gateway]", f"dns = {_toml(dns)}",
        "[auth]", f"token_secret_file = {_toml(_secret_file(workdir, 'token', secrets.token_urlsafe(32)))}",
        f"allowed_origins = {_toml([ORIGIN, f'{ORIGIN}:{port}'])}",
        "[auth.rate_limit]", "per_second = 10000", "burst = 10000",
        # the widgets' phones get their SIP password over the bridge's socket, derived from this
        "[auth.sip]", f"webrtc_secret_file = {_toml(_secret_file(workdir, 'webrtc', webrtc_secret))}",
        # the page the bridge serves may connect to Asterisk's own WebSocket (another port)
        "[http]", f"connect_src = {_toml([ASTERISK_WS])}",
        "[log]", 'level = "WARNING"',
    ]
    path = workdir / "bridge.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def until_http(url: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not ready in {within_s}s")
            await asyncio.sleep(0.2)


# ---------------------------------------------------------------------- widgets
@dataclass
class Widget:
    """One agent's widget stream, as a WWE page would hold it."""

    dn: str
    seen: dict[str, set[tuple[str, str, bool]]] = field(default_factory=dict)  # uuid -> (state, sync, both)
    removed: set[str] = field(default_factory=set)
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # receive wall time - delta.t, seconds
    problems: list[str] = field(default_factory=list)
    last: int | None = None

    def on_frame(self, frame: dict[str, Any], received: float) -> None:
        if frame.get("type") == "snapshot":
            self.last = frame["seq"]
            self.live = {c["id"]: c for c in frame["calls"]}
        elif frame.get("type") == "delta":
            if self.last is not None and frame["seq"] != self.last + 1:
                self.problems.append(f"{self.dn}: seq {frame['seq']} after {self.last}")
            self.last = frame["seq"]
            self.latencies.append(received - frame["t"])
            call = frame["call"]
            uuid = call.get("call_uuid") or ""
            if frame["op"] == "removed":
                self.live.pop(call["id"], None)
                self.removed.add(uuid)
                return
            self.live[call["id"]] = call
            both = bool(call.get("genesys")) and bool(call.get("asterisk"))
            self.seen.setdefault(uuid, set()).add((call["state"], call["sync"]["status"], both))


@dataclass
class Rig:
    workdir: Path
    sandbox: AsteriskSandbox
    settings: GatewaySettings
    genesys: asyncio.subprocess.Process  # bench/load_genesys.py: GWS simulator + GenesysMirror
    bridge: asyncio.subprocess.Process
    bridge_url: str
    token_secret: bytes
    widgets: dict[str, Widget]

    async def open_widget(self, page: Page, dn: str, **params: str) -> None:
        """The agent opens the widget and signs in with its token (typed: never in a URL); the
        bridge answers with the DN's SIP credentials and the phone registers."""
        query = "".join(f"&{k}={v}" for k, v in params.items())
        await page.goto(f"{self.bridge_url}/widget/?dn={dn}&asteriskUrl={ASTERISK_WS}&sipDomain={HOST}"
                        + query)
        form = page.get_by_role("form", name="Sign in to the bridge")
        await form.get_by_label("Agent token").fill(
            mint(self.token_secret, f"agent{dn}", [dn], 3600, time.time()))
        await form.get_by_role("button", name="Sign in").click()

    def ami_events(self) -> list[tuple[float, int]]:
        """(monotonic time, AMI events read so far), a row a second, from Genesys' AMI login."""
        path = self.workdir / "ami-events.txt"
        rows = [line.split() for line in path.read_text(encoding="ascii").splitlines()]
        return [(float(t), int(n)) for t, n in rows if n]


async def _follow(http: aiohttp.ClientSession, url: str, widget: Widget, secret: bytes,
                  ready: asyncio.Event) -> None:
    token = mint(secret, f"load{widget.dn}", [widget.dn], 3600, time.time())
    async with http.ws_connect(url, headers={"Origin": ORIGIN}, max_msg_size=0) as ws:
        credential = {"kind": "hmac", "token": token}
        await ws.send_str(json.dumps({"type": "hello", "dn": widget.dn, "credential": credential}))
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                widget.on_frame(json.loads(msg.data), time.time())
                ready.set()
        widget.problems.append(f"{widget.dn}: the bridge closed the stream ({ws.close_code})")


async def _genesys(workdir: Path, agents: list[SimAgent], ami_secret: str
                   ) -> tuple[asyncio.subprocess.Process, str]:
    agents_file = workdir / "agents.json"
    agents_file.write_text(json.dumps([vars(a) for a in agents]), encoding="utf-8")
    agents_file.chmod(0o600)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("load_genesys.py")), str(agents_file),
        _secret_file(workdir, "ami", ami_secret), str(workdir / "ami-events.txt"),
        stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    async with asyncio.timeout(60):
        line = (await process.stdout.readline()).decode()
    if not line.startswith("ready "):
        raise RuntimeError(f"the Genesys stand-in did not start: {line!r}")
    return process, line.split()[1]


async def _end(process: asyncio.subprocess.Process | None) -> None:
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def rig(workdir: Path, phone_dns: list[str], browser_dns: list[str]) -> AsyncIterator[Rig]:
    dns = browser_dns + phone_dns
    settings = lab_gateway_settings(dns)
    sandbox = AsteriskSandbox(default_root(), workdir / "asterisk")
    await sandbox.start(gateway_files(settings, phone_dns))
    registrar = Sipp(workdir / "registrar", phones={}, passwords={})
    agents = [SimAgent(f"agent{dn}", secrets.token_hex(8), dn) for dn in dns]
    genesys: asyncio.subprocess.Process | None = None
    bridge: asyncio.subprocess.Process | None = None
    readers: list[asyncio.Task[None]] = []
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        await registrar.genesys_registrar(port=settings.registrar_port)
        genesys, gws_url = await _genesys(workdir, agents, settings.ami_secret.get_secret_value())
        port = free_port()
        config = bridge_config(workdir, port, settings.ami_secret.get_secret_value(), gws_url, agents, dns,
                               settings.webrtc_secret.get_secret_value())
        token_secret = (workdir / "token.secret").read_bytes()
        bridge = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ctibridge", "run", "--config", str(config),
            stdout=open(workdir / "bridge.log", "wb"), stderr=asyncio.subprocess.STDOUT,  # noqa: ASYNC230
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        base = f"http://{HOST}:{port}"
        await until_http(f"{base}/readyz", 90)  # 200 once AMI, every GWS session and registration are up
        widgets = {dn: Widget(dn) for dn in dns}
        for widget in widgets.values():
            ready = asyncio.Event()
            url = f"ws://{HOST}:{port}/ws"
            readers.append(asyncio.create_task(_follow(http, url, widget, token_secret, ready)))
            async with asyncio.timeout(30):
                await ready.wait()
        yield Rig(workdir, sandbox, settings, genesys, bridge, base, token_secret, widgets)
    finally:
        for reader in readers:
            reader.cancel()
        await http.close()
        await _end(bridge)
        await _end(genesys)
        with contextlib.suppress(Exception):
            sandbox.cli("channel request hangup all")
        await registrar.close(grace_s=1.0)
        await sandbox.stop()
