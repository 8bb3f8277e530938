"""A bridge owner as a real ``ctibridge run`` process in front of the simulators, on the Redis store
(its secrets by environment, as the example configuration recommends), and a widget client that
keeps every frame it received."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from service_rig import AMI_SECRET, ORIGIN, TOKEN_SECRET, WITHIN, settings_data

from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import GwsSimulator
from tools.local_services import free_port, wait_for_port

SECRET_KEYS = {("auth", "token_secret"), ("ami", "secret")}


def toml_text(data: dict[str, dict[str, Any]]) -> str:
    """The settings as TOML: scalar keys and lists of scalars per section, lists of tables."""
    lines: list[str] = []
    tables: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if (section, key) in SECRET_KEYS:
                continue
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    tables.append(f"[[{section}.{key}]]")
                    tables += [f"{k} = {json.dumps(v)}" for k, v in item.items()]
            else:
                lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines + tables) + "\n"


@dataclass
class OwnerProcess:
    proc: asyncio.subprocess.Process
    port: int

    @property
    def ws_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ws"

    def kill(self) -> None:
        """SIGKILL: no release of the lease, no last write, no goodbye."""
        if self.proc.returncode is None:
            self.proc.kill()


@contextlib.asynccontextmanager
async def owner_process(gws: GwsSimulator, ami: AmiSimulator, tmp_path: Path, *, redis_url: str,
                        instance: str, ttl_s: float,
                        **sections: dict[str, Any]) -> AsyncIterator[OwnerProcess]:
    port = free_port()
    data = settings_data(gws, ami, listen={"port": port},
                         store={"kind": "redis", "redis_url": redis_url, "instance_id": instance,
                                "ownership_ttl_s": ttl_s}, **sections)
    config = tmp_path / f"{instance}.toml"
    config.write_text(toml_text(data))
    env = {**os.environ, "CTIBRIDGE_AUTH__TOKEN_SECRET": TOKEN_SECRET, "CTIBRIDGE_AMI__SECRET": AMI_SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ctibridge.cli", "run", "--config", str(config), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    owner = OwnerProcess(proc, port)
    try:
        await asyncio.to_thread(wait_for_port, port, 15.0)
        yield owner
    finally:
        owner.kill()
        await proc.wait()


@dataclass
class Widget:
    """A widget on one DN: every frame it got, its stream position, its folded call list. It
    reconnects as the real one does: with ``since`` once it has a stream position."""

    token: str
    dn: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)
    epoch: str = ""
    seq: int = 0
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def hello(self, http: aiohttp.ClientSession, url: str) -> None:
        self.ws = await http.ws_connect(url, headers={"Origin": ORIGIN})
        hello: dict[str, Any] = {"type": "hello", "dn": self.dn,
                                 "credential": {"kind": "hmac", "token": self.token}}
        if self.epoch:
            hello["since"] = {"epoch": self.epoch, "seq": self.seq}
        await self.ws.send_str(json.dumps(hello))
        self.take(await self.ws.receive_json(timeout=WITHIN))

    def take(self, frame: dict[str, Any]) -> None:
        """Apply one frame, checking the stream's promise: no gap, no repeat."""
        self.frames.append(frame)
        if frame["type"] == "snapshot":
            self.epoch, self.seq = frame["epoch"], frame["seq"]
            self.calls = {c["id"]: c for c in frame["calls"]}
        elif frame["type"] == "resume":
            assert frame["epoch"] == self.epoch and frame["from_seq"] == self.seq + 1, (frame, self.seq)
        elif frame["type"] == "delta":
            assert frame["seq"] == self.seq + 1, f"gap or repeat: {frame['seq']} after {self.seq}"
            self.seq = frame["seq"]
            if frame["op"] == "removed":
                self.calls.pop(frame["call"]["id"], None)
            else:
                self.calls[frame["call"]["id"]] = frame["call"]

    async def pump(self) -> None:
        """Take frames until the socket ends."""
        assert self.ws is not None
        while True:
            msg = await self.ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                return
            self.take(json.loads(msg.data))

    async def follow(self, http: aiohttp.ClientSession, url: str) -> None:
        """Until cancelled: take frames, reconnect with ``since`` whenever the socket ends (a
        server asking for a resume, a store briefly unavailable)."""
        while True:
            await self.pump()
            await asyncio.sleep(0.1)  # the widget's reconnect delay
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, TypeError):
                await self.hello(http, url)

    def deltas(self) -> dict[tuple[str, int], dict[str, Any]]:
        """Every delta received, by (epoch, seq)."""
        out: dict[tuple[str, int], dict[str, Any]] = {}
        epoch = ""
        for frame in self.frames:
            epoch = frame.get("epoch", epoch)
            if frame["type"] == "delta":
                out[(epoch, frame["seq"])] = frame
        return out
