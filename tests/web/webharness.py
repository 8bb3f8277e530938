"""Helpers of the service tests: settings, tokens, a running bridge instance (the real app
factory, store, hub, pipeline, executor, AMI client and GWS sessions) on a free 127.0.0.1 port,
and a real WebSocket widget client, with deadline-bound waits. Fixtures: tests/web/conftest.py."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from ctibridge.config import Settings
from ctibridge.identity.hmac_token import mint
from ctibridge.service.assemble import Components
from ctibridge.sim.gws import SimAgent

TOKEN_SECRET = "web-test-token-secret-0123456789"
AMI_SECRET = "web-test-ami-secret-4711"
AGENTS = [SimAgent(f"agent{n}", f"gws-pass-{n}-31337", f"500{n}") for n in (1, 2, 3)]  # 5003: sipp phone
SECRETS = (TOKEN_SECRET, AMI_SECRET, *(a.password for a in AGENTS))
ALLOWED_ORIGIN = "http://wwe.test"
DEADLINE = 8.0


def settings_for(gws_url: str, *, ami_port: int, **sections: dict[str, Any]) -> Settings:
    """Bridge settings for the tests; ``sections`` replace keys of a section (one level deep)."""
    data: dict[str, dict[str, Any]] = {
        "listen": {"port": 0},
        "ami": {"username": "ctibridge", "secret": AMI_SECRET, "port": ami_port, "reconnect_min_s": 0.2,
                "reconnect_max_s": 1.0, "ping_interval_s": 1.0},
        "gws": {"base_url": gws_url, "agents": [
            {"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
            for a in AGENTS]},
        "gateway": {"dns": ["5001-5004"]},
        "correlation": {"grace_period_s": 1.0},
        "store": {"ownership_ttl_s": 1.5},
        "auth": {"token_secret": TOKEN_SECRET, "allowed_origins": [ALLOWED_ORIGIN]},
        "actions": {"step_timeout_s": 5.0, "confirm_timeout_s": 5.0},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Settings(**data)


def config_text(gws_url: str, port: int, ami_port: int, event_log: Path) -> str:
    """A service configuration file (TOML) for `ctibridge run`; its secrets come by environment."""
    agents = "".join(f'[[gws.agents]]\nagent_id = "{a.username}"\nusername = "{a.username}"\n'
                     f'password = "{a.password}"\ndn = "{a.dn}"\n' for a in AGENTS)
    return (f'[listen]\nport = {port}\n[ami]\nport = {ami_port}\nusername = "ctibridge"\n'
            f'reconnect_max_s = 1.0\n[gws]\nbase_url = "{gws_url}"\n{agents}'
            f'[gateway]\ndns = ["5001-5004"]\n[log]\nevent_log = "{event_log}"\n')


def env_with_secrets() -> dict[str, str]:
    # secrets by environment, as the example configuration recommends
    return {**os.environ, "CTIBRIDGE_AUTH__TOKEN_SECRET": TOKEN_SECRET, "CTIBRIDGE_AMI__SECRET": AMI_SECRET}


def token(agent: str, *dns: str, ttl_s: int = 3600, now: float | None = None) -> str:
    return mint(TOKEN_SECRET.encode(), agent, list(dns), ttl_s, time.time() if now is None else now)


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


async def until(predicate: Callable[[], Any], within: float = DEADLINE, what: str = "") -> Any:
    """Poll a condition of the system under test until it holds, failing after ``within`` s."""
    deadline = time.monotonic() + within
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what or predicate}")
        await asyncio.sleep(0.02)
    return result


async def until_answer(probe: Callable[[], Awaitable[Any]], within: float = DEADLINE, what: str = "") -> Any:
    """Like ``until`` for a condition that needs I/O to check (an HTTP call, a store read)."""
    deadline = time.monotonic() + within
    while not (result := await probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what or probe}")
        await asyncio.sleep(0.02)
    return result


@dataclass
class Widget:
    """A real WebSocket client speaking the widget protocol."""

    ws: aiohttp.ClientWebSocketResponse
    frames: list[dict[str, Any]] = field(default_factory=list)

    async def next(self, type_: str, within: float = DEADLINE,
                   where: Callable[[dict[str, Any]], bool] = lambda m: True) -> dict[str, Any]:
        """The next frame of ``type_`` matching ``where`` (frames of other types are kept)."""
        try:
            async with asyncio.timeout(within):
                while True:
                    msg = await self.ws.receive()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        raise AssertionError(f"socket ended: {msg.type} {self.ws.close_code} {msg.extra}")
                    frame = json.loads(msg.data)
                    self.frames.append(frame)
                    if frame["type"] == type_ and where(frame):
                        return frame
        except TimeoutError:
            last = json.dumps(self.frames[-3:], indent=1)[-3000:]
            raise AssertionError(f"no matching {type_} within {within}s; last frames: {last}") from None

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def closed_with(self, within: float = DEADLINE) -> int | None:
        async with asyncio.timeout(within):
            while True:
                msg = await self.ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    return self.ws.close_code


@dataclass
class Bridge:
    """One running bridge instance and an HTTP client session toward it."""

    settings: Settings
    components: Components
    server: TestServer
    http: aiohttp.ClientSession
    stopped: bool = False

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def widget(self, tok: str, dn: str, *, since: dict[str, Any] | None = None,
                     origin: str | None = None) -> Widget:
        headers = {"Origin": origin} if origin else {}
        ws = await self.http.ws_connect(self.url("/ws"), headers=headers)
        hello: dict[str, Any] = {"type": "hello", "dn": dn,
                                 "credential": {"kind": "hmac", "token": tok}}
        if since is not None:
            hello["since"] = since
        widget = Widget(ws)
        await widget.send(hello)
        return widget

    def call_ids(self, dn: str) -> list[str]:
        return [c["id"] for c in self.components.pipeline.correlator.snapshot(dn)[1]]

    async def stop(self) -> None:
        """Shut down like SIGTERM would: cleanup contexts in reverse (lease released)."""
        if not self.stopped:
            self.stopped = True
            await self.http.close()
            await self.server.close()


BridgeFactory = Callable[..., Awaitable[Bridge]]
