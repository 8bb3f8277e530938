"""A minimal in-process AMI server, only for what a real Asterisk cannot be made to do on demand:
a UTF-8 character split across TCP segments, a peer that stops answering, a refused login, a
server that is not there yet at start-up. Everything else is tested against the real sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from ctibridge.core.ami_parse import AmiFramer

GREETING = b"Asterisk Call Manager/11.0.0\r\n"


def frame(*lines: str) -> bytes:
    return ("".join(f"{line}\r\n" for line in lines) + "\r\n").encode("utf-8")


class FakeAmi:
    def __init__(self, secret: str = "s3cret", port: int = 0) -> None:
        self.secret = secret
        self.port = port
        self.answering = True  # False: read everything, answer nothing (a half-open peer)
        self.connections = 0
        self.logins = 0
        self.writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self.writers:
            writer.close()
        await self._server.wait_closed()

    async def push(self, data: bytes) -> None:
        """Write raw bytes to the latest session (one TCP segment: TCP_NODELAY is set)."""
        writer = self.writers[-1]
        writer.write(data)
        await writer.drain()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(GREETING)
        framer = AmiFramer()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                for action in framer.feed(data):
                    if self.answering and not await self._answer(action, writer):
                        writer.close()
                        return
        writer.close()

    async def _answer(self, action: dict[str, str | list[str]], writer: asyncio.StreamWriter) -> bool:
        name, action_id = action.get("Action"), f"ActionID: {action.get('ActionID', '')}"
        if name == "Login":
            if action.get("Secret") != self.secret:
                writer.write(frame("Response: Error", action_id, "Message: Authentication failed"))
                return False  # Asterisk ends the session after a refused login
            self.logins += 1
            writer.write(frame("Response: Success", action_id, "Message: Authentication accepted"))
            writer.write(frame("Event: FullyBooted", "Privilege: system,all", "Uptime: 100"))
        elif name == "Ping":
            writer.write(frame("Response: Success", action_id, "Ping: Pong", "Timestamp: 1795598154.216791"))
        elif name in ("CoreShowChannels", "PJSIPShowRegistrationsOutbound"):
            writer.write(frame("Response: Success", action_id, "EventList: start", "Message: will follow"))
            writer.write(frame(f"Event: {name}Complete", action_id, "EventList: Complete", "ListItems: 0"))
        else:
            writer.write(frame("Response: Error", action_id, f"Message: Invalid/unknown command: {name}"))
        await writer.drain()
        return True
