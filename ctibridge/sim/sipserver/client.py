"""The asyncio side of the SIP engine (engine.py): starts the process, sends commands, hands its
events to one listener, stops it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctibridge.sim.sipserver.processes import end

log = logging.getLogger("ctibridge.sim.sipserver")

EngineEvent = dict[str, Any]


class EngineError(Exception):
    """The engine refused or failed a command."""


class EngineClient:
    def __init__(self, endpoints: dict[str, tuple[str, int]], on_event: Callable[[EngineEvent], None],
                 log_file: Path, passwords: dict[str, str] | None = None, log_level: int = 1) -> None:
        self.endpoints, self.on_event, self.passwords = endpoints, on_event, dict(passwords or {})
        self.log_file, self.log_level = log_file, log_level
        self._process: asyncio.subprocess.Process | None = None
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self, within_s: float = 10.0) -> None:
        config = {"endpoints": {name: list(address) for name, address in self.endpoints.items()},
                  "passwords": self.passwords, "log_level": self.log_level}
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as stderr:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ctibridge.sim.sipserver.engine", json.dumps(config),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
                limit=1 << 20)
        self._reader = asyncio.create_task(self._read(self._process))
        try:
            await asyncio.wait_for(self._ready.wait(), within_s)
        except TimeoutError:
            await self.stop()
            raise EngineError(f"the SIP engine did not start; see {self.log_file}") from None

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("SIP engine: not JSON: %r", line[:200])
                continue
            if "reply" in message:
                future = self._replies.pop(message["reply"], None)
                if future is not None and not future.done():
                    if message.get("ok"):
                        future.set_result(message.get("result"))
                    else:
                        future.set_exception(EngineError(str(message.get("error"))))
            elif message.get("event") == "ready":
                self._ready.set()
            else:
                try:
                    self.on_event(message)
                except Exception:  # a listener's bug must not stop the events that follow
                    log.exception("SIP engine event listener failed on %s", message)
        for future in self._replies.values():
            if not future.done():
                future.set_exception(EngineError("the SIP engine exited"))
        self._replies.clear()

    async def command(self, op: str, within_s: float = 5.0, **args: Any) -> Any:
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise EngineError("the SIP engine is not running")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        process.stdin.write((json.dumps({"id": request_id, "op": op, "args": args}) + "\n").encode())
        await process.stdin.drain()
        return await asyncio.wait_for(future, within_s)

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.stdin is not None:
            await end(process, process.stdin.close)  # on end of input the engine hangs up and exits
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
