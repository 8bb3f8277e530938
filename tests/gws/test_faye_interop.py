"""The CometD layer (CometdLink on aiocometd-noloop) against a third-party Bayeux server, npm faye
(installed by scripts/install-faye.sh): handshake, subscribe, delivery over long-polling and
websocket, and recovery after the faye process is killed and started again on the same port."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import Recorder

from ctibridge.core.pacing import Backoff
from ctibridge.gws.cometd import CometdLink, LinkTimeouts
from tools.local_services import free_port

pytestmark = pytest.mark.faye

FAYE_DIR = Path(__file__).parent / "faye"
NODE = "/usr/bin/node"


@dataclass
class Faye:
    port: int
    process: asyncio.subprocess.Process | None = None
    pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cometd"

    async def start(self) -> None:
        assert (FAYE_DIR / "node_modules" / "faye").is_dir(), "run scripts/install-faye.sh first"
        self.process = await asyncio.create_subprocess_exec(
            NODE, str(FAYE_DIR / "server.js"), str(self.port), "1", stdout=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(10):
            line = await self.process.stdout.readline()  # type: ignore[union-attr]
        assert line.decode().startswith("ready"), line
        self.pids.append(self.process.pid)

    async def kill(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


@pytest.fixture
async def faye() -> AsyncIterator[Faye]:
    server = Faye(free_port())
    await server.start()
    yield server
    await server.kill()


@dataclass
class LinkLog:
    recorder: Recorder = field(default_factory=Recorder)
    messages: list[dict[str, Any]] = field(default_factory=list)
    ups: list[str] = field(default_factory=list)
    downs: list[str] = field(default_factory=list)

    async def on_message(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.recorder.changed.set()

    async def on_up(self, how: str) -> None:
        self.ups.append(how)
        self.recorder.changed.set()

    async def on_down(self, reason: BaseException | str) -> None:
        self.downs.append(str(reason))
        self.recorder.changed.set()

    def from_boot(self, pid: int) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["data"].get("boot") == pid]


@pytest.mark.parametrize("transport", ["long-polling", "websocket"])
async def test_faye_delivery_and_recovery_after_kill(faye: Faye, transport: str) -> None:
    log = LinkLog()
    link = CometdLink(
        faye.url,
        ["/v2/me/calls"],
        on_message=log.on_message,
        on_up=log.on_up,
        on_down=log.on_down,
        connection_types=[transport],
        timeouts=LinkTimeouts(open=5.0, connection=8.0),
        backoff=Backoff(0.1, 0.5),
    )
    task = asyncio.create_task(link.run())
    try:
        first_boot = faye.pids[0]
        await log.recorder.wait_for(lambda: len(log.from_boot(first_boot)) >= 5)
        assert log.ups == ["connected"] and link.connection_type == transport
        seqs = [m["data"]["seq"] for m in log.from_boot(first_boot)]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in order, no duplicates
        assert all(m["channel"] == "/v2/me/calls" for m in log.messages)

        await faye.kill()
        await faye.start()  # same port, no state: only a new handshake + subscribe gets messages
        second_boot = faye.pids[1]
        await log.recorder.wait_for(lambda: len(log.from_boot(second_boot)) >= 3, within=15)
        # "resubscribed" (the library's re-handshake) or "connected" (a rebuild), after a "lost"
        await log.recorder.wait_for(lambda: len(log.ups) >= 2 and log.downs)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
