"""The real service (``build`` + ``create_app``, memory store, the access log of ``ctibridge run``)
on 127.0.0.1 in front of the GWS simulator (also the agents' identity provider) and the AMI
simulator, for the reliability and identity tests; everything is stopped on exit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from ctibridge.config import Settings
from ctibridge.identity.hmac_token import mint
from ctibridge.service.assemble import Components, build
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import Advice, GwsSimulator, SimAgent
from ctibridge.web.access_log import RedactedAccessLogger
from ctibridge.web.app import create_app

Section = dict[str, Any] | Callable[[GwsSimulator], dict[str, Any]]
TOKEN_SECRET = "reliability-token-secret-8a1f93c2"
AMI_SECRET = "reliability-ami-secret-55d0e1"
AGENTS = [SimAgent(f"agent{n}", f"gws-password-{n}-b7e2c", f"500{n}") for n in (1, 2)]
SECRETS = (TOKEN_SECRET, AMI_SECRET, *(a.password for a in AGENTS))
ORIGIN = "http://wwe.test"
WITHIN = 10.0


@dataclass
class Rig:
    gws: GwsSimulator
    ami: AmiSimulator
    settings: Settings
    components: Components
    server: TestServer
    http: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def token(self, agent: str, *dns: str) -> str:
        return mint(TOKEN_SECRET.encode(), agent, list(dns), 3600, time.time())

    async def widget(self, agent: str, dn: str) -> aiohttp.ClientWebSocketResponse:
        """A widget past its hello (the snapshot read)."""
        ws = await self.hello(dn, {"kind": "hmac", "token": self.token(agent, dn)})
        first = await ws.receive_json(timeout=WITHIN)
        assert first["type"] == "snapshot", first
        return ws

    async def hello(self, dn: str, credential: dict[str, str], *, origin: str | None = ORIGIN,
                    cookie: str = "") -> aiohttp.ClientWebSocketResponse:
        """A socket that said hello with ``credential`` (``cookie``: the GWS session cookie the
        browser would send on the upgrade)."""
        headers = {"Origin": origin} if origin else {}
        if cookie:
            headers["Cookie"] = f"JSESSIONID={cookie}"
        ws = await self.http.ws_connect(self.url("/ws"), headers=headers)
        await ws.send_str(json.dumps({"type": "hello", "dn": dn, "credential": credential}))
        return ws

    async def sign_in(self, agent: SimAgent) -> str:
        """The agent signs in at the GWS simulator (as in WWE); its session cookie."""
        async with self.http.post(self.gws.base_url + "/auth/v3/sign-in",
                                  data={"username": agent.username, "password": agent.password}) as resp:
            assert resp.status == 200
            return resp.cookies["JSESSIONID"].value

    async def wwe_jwt(self, cookie: str) -> str:
        """What WWE's ``auth.getJwtToken`` answers for the signed-in agent."""
        async with self.http.get(self.gws.base_url + "/auth/v3/jwt",
                                 headers={"Cookie": f"JSESSIONID={cookie}"}) as resp:
            assert resp.status == 200
            return str((await resp.json())["token"])

    async def ready(self) -> None:
        deadline = time.monotonic() + WITHIN
        while not (self.components.pipeline.links.get("ami") == "connected"
                   and all(self.gws.subscribed(a.dn) for a in AGENTS)):
            if time.monotonic() > deadline:
                raise AssertionError(f"bridge not ready: {self.components.pipeline.links}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def simulators() -> AsyncIterator[tuple[GwsSimulator, AmiSimulator]]:
    """The GWS and AMI simulators on 127.0.0.1, stopped on exit."""
    gws = GwsSimulator(AGENTS, advice=Advice(timeout_ms=1500, interval_ms=0))
    await gws.start()
    ami = AmiSimulator(agent_dns=frozenset(a.dn for a in AGENTS), secret=AMI_SECRET)
    await ami.start()
    try:
        yield gws, ami
    finally:
        await ami.stop()
        await gws.stop()


def settings_data(gws: GwsSimulator, ami: AmiSimulator, /, *, ami_secret: str = AMI_SECRET,
                  event_log: Path | None = None, **sections: Section) -> dict[str, dict[str, Any]]:
    """The service's settings in front of the simulators; ``sections`` replace keys of a section."""
    data: dict[str, dict[str, Any]] = {
        "listen": {"host": "127.0.0.1", "port": 0},
        "ami": {"port": ami.port, "username": ami.username, "secret": ami_secret, "reconnect_min_s": 0.1,
                "reconnect_max_s": 0.5, "ping_interval_s": 1.0},
        "gws": {"base_url": gws.base_url, "agents": [
            {"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
            for a in AGENTS]},
        "gateway": {"dns": [a.dn for a in AGENTS]},
        "correlation": {"grace_period_s": 1.0},
        "auth": {"token_secret": TOKEN_SECRET, "allowed_origins": [ORIGIN]},
        "log": {"event_log": str(event_log)} if event_log else {},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **(values(gws) if callable(values) else values)}
    return data


@contextlib.asynccontextmanager
async def running_service(*, ami_secret: str = AMI_SECRET, event_log: Path | None = None,
                          wait_ready: bool = True, **sections: Section) -> AsyncIterator[Rig]:
    """``ami_secret`` is what the bridge sends (the simulator expects AMI_SECRET); each section
    updates the configuration's (a function of the started GWS simulator, where it needs its URL)."""
    async with simulators() as (gws, ami), service_on(gws, ami, ami_secret=ami_secret, event_log=event_log,
                                                      wait_ready=wait_ready, **sections) as rig:
        yield rig


@contextlib.asynccontextmanager
async def service_on(gws: GwsSimulator, ami: AmiSimulator, /, *, wait_ready: bool = True,
                     **options: Any) -> AsyncIterator[Rig]:
    """One service instance in this process in front of the given simulators (left running)."""
    settings = Settings.model_validate(settings_data(gws, ami, **options))
    components = build(settings)
    server = TestServer(create_app(settings, components=components), host="127.0.0.1", port=0)
    await server.start_server(access_log_class=RedactedAccessLogger)
    http = aiohttp.ClientSession()
    rig = Rig(gws, ami, settings, components, server, http)
    try:
        if wait_ready:
            await rig.ready()
        yield rig
    finally:
        await http.close()
        await server.close()
