"""The real bridge service for browser tests: the service's ``build`` + ``create_app`` (in-memory
store) following an AMI (the simulator or the Asterisk sandbox) and the GWS simulator, on a fixed
port so it can be stopped and started again under the same widget."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.config import Settings
from ctibridge.identity.hmac_token import mint
from ctibridge.service.assemble import Components, build
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.gws.auth import bridge_jwt_section
from ctibridge.sim.lab_gateway import GenesysMirror
from ctibridge.web.app import create_app
from tools.local_services import LAB_WEBRTC_SECRET, free_port

if TYPE_CHECKING:
    from fixtures_asterisk import LabAsterisk

HOST = "127.0.0.1"


@dataclass(frozen=True)
class AmiLogin:
    """Where and as whom the bridge logs in to AMI (the simulator's or the sandbox's)."""

    port: int
    username: str
    secret: str


LAB_ASTERISK_WS = "ws://127.0.0.1:8088/ws"  # the lab sandbox's SIP WebSocket


def bridge_settings(port: int, ami: AmiLogin, gws: GwsSimulator, event_log: Path,
                    webrtc_secret: str | None = None, ws_servers: list[str] | None = None) -> Settings:
    """What the service needs to follow ``ami`` and the GWS simulator, serving the widget on ``port``:
    agent tokens and the simulator's JWTs are credentials; with ``webrtc_secret`` (the gateway's),
    a verified widget gets its DN's SIP credentials (``ws_servers``: where its phone registers)."""
    sip = {"webrtc_secret": webrtc_secret, "ws_servers": ws_servers} if webrtc_secret else None
    return Settings.model_validate({
        "listen": {"host": HOST, "port": port},
        "ami": {"host": HOST, "port": ami.port, "username": ami.username, "secret": ami.secret,
                "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "gws": {"base_url": gws.base_url, "agents": [
            {"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
            for a in gws.agents.values()]},
        "gateway": {"dns": [a.dn for a in gws.agents.values()]},
        "auth": {"token_secret": secrets.token_urlsafe(32), "allowed_origins": [f"http://{HOST}:{port}"],
                 "verifiers": ["hmac", "jwt"], "jwt": bridge_jwt_section(gws),
                 "sip": sip},
        # the WWE stand-in (the simulator's origin) frames the widget; its phone reaches Asterisk's
        # WebSocket on the lab's port
        "http": {"frame_ancestors": ["'self'", gws.base_url],
                 "connect_src": [*(ws_servers or []), LAB_ASTERISK_WS]},
        "log": {"event_log": str(event_log)},
    })


async def until_connected(components: Components, gws: GwsSimulator) -> None:
    """AMI resynchronised and every agent's GWS subscription up (no event says so: poll, bounded)."""
    async with asyncio.timeout(15):
        while components.pipeline.links.get("ami") != "connected" or not all(  # noqa: ASYNC110
                gws.subscribed(a.dn) for a in gws.agents.values()):
            await asyncio.sleep(0.05)


class Bridge:
    """The bridge service on a fixed port, restartable (a restart loses its in-memory state:
    the widget gets a new epoch and the call back from the AMI resync and the GWS re-read)."""

    def __init__(self, settings: Settings, gws: GwsSimulator, port: int) -> None:
        self.settings, self.gws, self.port = settings, gws, port
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        components = build(self.settings)
        self.runner = web.AppRunner(create_app(self.settings, components=components), shutdown_timeout=1.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, HOST, self.port, reuse_address=True).start()
        await until_connected(components, self.gws)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def widget_url(self, dn: str, **params: str) -> str:
        """The standalone widget's URL: a DN hint and display options, never a secret."""
        query = "".join(f"&{k}={v}" for k, v in params.items())
        return f"http://{HOST}:{self.port}/widget/?dn={dn}{query}"

    def token(self, dn: str) -> str:
        """An agent token for ``dn``, for the widget's sign-in field (``ctibridge token``)."""
        return mint(self.settings.auth.secret_bytes, f"agent{dn}", [dn], 3600, time.time())


@contextlib.asynccontextmanager
async def bridge_on_lab_asterisk(asterisk: LabAsterisk, event_log: Path, dn: str,
                                 ws_servers: list[str] | None = None) -> AsyncIterator[Bridge]:
    """The bridge following the Asterisk sandbox's AMI and a GWS simulator that reports what SIP
    Server would (``GenesysMirror`` on the same AMI), agent ``agent<dn>`` Ready; a verified widget
    gets the DN's SIP credentials (the lab's WebRTC secret; ``ws_servers`` where to register)."""
    gws = GwsSimulator([SimAgent(f"agent{dn}", secrets.token_hex(8), dn)])
    await gws.start(HOST)
    login = AmiLogin(asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
    mirror = GenesysMirror(gws)
    ami = AmiSettings(port=login.port, username=login.username, secret=SecretStr(login.secret))
    sip_server = AmiClient(ami, on_message=mirror.on_ami, on_link=lambda *_: None)
    port = free_port()
    settings = bridge_settings(port, login, gws, event_log, LAB_WEBRTC_SECRET, ws_servers)
    service = Bridge(settings, gws, port)
    try:
        await sip_server.start(timeout_s=10)
        await service.start()
        gws.set_agent_state(dn, "Ready")
        yield service
    finally:
        await service.stop()
        await sip_server.close()
        await gws.stop()
