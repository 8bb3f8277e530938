"""A deliberately tiny AMI client for the sandbox tests (the product's client is ctibridge/ami/).

One TCP connection; every message is a dict (a repeated key becomes a list, as in the architecture
contract); responses are matched by ActionID; every event is kept in ``events`` in arrival order.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Self

Message = dict[str, str | list[str]]


def parse(block: bytes) -> Message:
    message: Message = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            key, value = line.rstrip(":"), ""
        if key in message:
            old = message[key]
            message[key] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            message[key] = value
    return message


class RawAmi:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._lists: dict[str, list[Message]] = {}
        self.events: list[Message] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def login(cls, host: str, port: int, user: str, secret: str) -> Self:
        reader, writer = await asyncio.open_connection(host, port)
        greeting = await asyncio.wait_for(reader.readline(), 5)
        assert greeting.startswith(b"Asterisk Call Manager/"), greeting
        ami = cls(reader, writer)
        ami._task = asyncio.create_task(ami._read())
        reply = await ami.action("Login", Username=user, Secret=secret)
        if reply.get("Response") != "Success":
            await ami.close()
            raise PermissionError(f"AMI login refused: {reply}")
        return ami

    async def _read(self) -> None:
        while True:
            try:
                block = await self._reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            message = parse(block[:-4])
            action_id = str(message.get("ActionID", ""))
            if "Response" in message and action_id in self._pending:
                self._pending.pop(action_id).set_result(message)
            elif "Event" in message and action_id in self._lists:
                self._lists[action_id].append(message)
            elif "Event" in message:
                self.events.append(message)
            async with self._changed:
                self._changed.notify_all()

    def _send(self, name: str, fields: dict[str, str]) -> tuple[str, asyncio.Future[Message]]:
        action_id = f"t{next(self._ids)}"
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        lines = [f"Action: {name}", f"ActionID: {action_id}", *(f"{k}: {v}" for k, v in fields.items())]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return action_id, future

    async def action(self, name: str, *, within_s: float = 10.0, **fields: str) -> Message:
        """Send one action; return its response."""
        return await asyncio.wait_for(self._send(name, fields)[1], within_s)

    async def action_list(
        self, name: str, *, within_s: float = 10.0, **fields: str
    ) -> tuple[Message, list[Message]]:
        """An action answered by an event list: the response and the list items (complete event last)."""
        action_id, future = self._send(name, fields)
        items = self._lists[action_id] = []
        response = await asyncio.wait_for(future, within_s)
        if response.get("Response") == "Success":
            await self._until(lambda: bool(items) and items[-1].get("EventList") == "Complete", within_s)
        return response, items

    async def _until(self, done: Callable[[], bool], within_s: float) -> None:
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(done)

    async def wait_event(self, within_s: float = 10.0, after: int = 0, **match: str) -> Message:
        """The first event from ``events[after:]`` whose fields equal ``match`` (received or arriving);
        ``after=len(ami.events)`` waits for a new one."""

        def found() -> Message | None:
            return next(
                (e for e in self.events[after:] if all(e.get(k) == v for k, v in match.items())), None
            )

        await self._until(lambda: found() is not None, within_s)
        event = found()
        assert event is not None
        return event

    async def close(self) -> None:
        self._writer.close()
        if self._task:
            self._task.cancel()
