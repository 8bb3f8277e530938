"""An AMI server on 127.0.0.1 that answers like Asterisk 22 and plays the simulated gateway.

``await sim.start()`` returns the port; point an AMI client at it with ``sim.username`` /
``sim.secret``. Actions change the simulated channels (``sim.pbx``) and every successful channel
action is handed to ``on_action`` listeners, so a combined scenario mirrors it on Genesys.
Faults: ``disconnect_clients()`` (EOF, Asterisk stays up) and ``restart()`` (h_restart capture:
``Shutdown``, EOF, refused for a while, then a fresh boot with ``Uptime: 0`` and no channels).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ctibridge.core.ami_parse import AmiFramer, RawMessage
from ctibridge.core.dialplan import TRANSFER_CONTEXT
from ctibridge.sim.ami import recorded as rec
from ctibridge.sim.ami.pbx import AmiEvent, Pbx, PbxError

ActionListener = Callable[[str, RawMessage], None]


def encode(msg: AmiEvent) -> bytes:
    lines = []
    for key, value in msg.items():
        for item in [value] if isinstance(value, str) else value:
            lines.append(f"{key}: {item}\r\n")
    return ("".join(lines) + "\r\n").encode()


def _s(msg: RawMessage, key: str) -> str:
    """Header lookup as Asterisk does it: case-insensitive, last value wins."""
    for k, v in msg.items():
        if k.lower() == key.lower():
            return v if isinstance(v, str) else v[-1]
    return ""


class _Session:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.authenticated = False
        self.events = True

    def send(self, msg: AmiEvent) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(msg))


class AmiSimulator:
    def __init__(
        self,
        *,
        username: str = "ctibridge",
        secret: str = "ctibridge-sim",
        trunk: str = "genesys",
        agent_dns: frozenset[str] = frozenset(),
        atxfer_digit_timeout_s: float = 0.5,
    ) -> None:
        self.username, self.secret = username, secret
        self._pbx_options: dict[str, Any] = dict(
            trunk=trunk, agent_dns=agent_dns, atxfer_digit_timeout_s=atxfer_digit_timeout_s
        )
        self.pbx = self._new_pbx()
        self.on_action: list[ActionListener] = []
        self.speed = 1.0  # the Asterisk-side timers (digit timeout, far end answering) run this much faster
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._buffer: list[AmiEvent] | None = None  # events of the action being answered
        self._booted_at = time.monotonic()

    def _new_pbx(self) -> Pbx:
        return Pbx(self._publish, self._schedule, epoch=int(time.time()), **self._pbx_options)

    # ------------------------------------------------------------------ life

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.disconnect_clients()
            await self._server.wait_closed()
            self._server = None

    def disconnect_clients(self) -> None:
        for session in list(self._sessions):
            session.writer.close()
        self._sessions.clear()

    async def restart(self, down_s: float = 0.5) -> None:
        """``core restart now``: Shutdown event, EOF, connections refused for ``down_s``, a fresh
        Asterisk (new Uniqueid epoch, no channels) that logs clients in before FullyBooted."""
        self._publish(
            {
                "Event": "Shutdown",
                "Privilege": rec.PRIVILEGE["system"],
                "Shutdown": "Cleanly",
                "Restart": "True",
            }
        )
        await self.stop()
        await asyncio.sleep(down_s)  # the simulated outage itself
        self.pbx = self._new_pbx()
        self._booted_at = time.monotonic()
        await self.start()

    # ------------------------------------------------------------------ events out

    def publish_raw(self, msg: AmiEvent) -> None:
        """Send any frame (malformed or foreign headers included) to every logged-in client."""
        self._publish(msg)

    def _publish(self, msg: AmiEvent) -> None:
        if self._buffer is not None:
            self._buffer.append(msg)
            return
        for session in self._sessions:
            if session.authenticated and session.events:
                session.send(msg)

    def _schedule(self, delay_s: float, callback: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(delay_s / self.speed, callback)

    # ------------------------------------------------------------------ one client

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.add(session)
        writer.write(f"{rec.GREETING}\r\n".encode())
        framer = AmiFramer(expect_greeting=False)
        try:
            while data := await reader.read(65536):
                for msg in framer.feed(data):
                    if not self._handle(session, msg):
                        return
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._sessions.discard(session)
            writer.close()

    def _handle(self, session: _Session, msg: RawMessage) -> bool:
        """Answer one action; False when the session ends (Logoff)."""
        action = _s(msg, "Action").lower()
        action_id = _s(msg, "ActionID")
        reply: AmiEvent = {"Response": "Success"}
        if action_id:
            reply["ActionID"] = action_id

        def error(message: str) -> bool:
            session.send(
                {"Response": "Error", **({"ActionID": action_id} if action_id else {}), "Message": message}
            )
            return True

        if action == "login":
            if _s(msg, "Username") != self.username or _s(msg, "Secret") != self.secret:
                return error(rec.AUTH_FAILED)
            session.authenticated = True
            session.events = _s(msg, "Events").lower() not in ("off", "no", "false", "0")
            session.send({**reply, "Message": rec.AUTH_ACCEPTED})
            uptime = str(int(time.monotonic() - self._booted_at))
            if session.events:
                session.send(
                    {
                        "Event": "FullyBooted",
                        "Privilege": rec.PRIVILEGE["system"],
                        "Uptime": uptime,
                        "LastReload": uptime,
                        "Status": "Fully Booted",
                    }
                )
            return True
        if not session.authenticated:
            return error("Authentication Required")
        if action == "logoff":
            session.send(
                {
                    "Response": "Goodbye",
                    **({"ActionID": action_id} if action_id else {}),
                    "Message": rec.GOODBYE,
                }
            )
            return False
        if action == "ping":
            session.send({**reply, "Ping": "Pong", "Timestamp": f"{time.time():.6f}"})
            return True
        if action == "events":
            session.events = _s(msg, "EventMask").lower() not in ("off", "none")
            session.send({**reply, "Events": "On" if session.events else "Off"})
            return True
        try:
            listing = self._listing(action, action_id, _s(msg, "Channel"))
        except PbxError as exc:
            return error(str(exc))
        if listing is not None:
            message, items, complete = listing
            session.send({**reply, "EventList": "start", "Message": message})
            for item in items:
                session.send(item)
            done: AmiEvent = {
                "Event": complete,
                **({"ActionID": action_id} if action_id else {}),
                "EventList": "Complete",
                "ListItems": str(len(items)),
            }
            if complete == "StatusComplete":
                done["Items"] = str(len(items))
            session.send(done)
            return True
        operation = self._operations.get(action)
        if operation is None:
            return error(rec.INVALID_ACTION.format(action=_s(msg, "Action")))
        self._buffer = []
        try:
            message = operation(self, msg)
        except PbxError as exc:
            return error(str(exc))
        finally:
            events, self._buffer = self._buffer, None
        session.send({**reply, "Message": message})
        for event in events:
            self._publish(event)
        for listener in list(self.on_action):
            listener(_s(msg, "Action"), msg)
        return True

    def _listing(self, action: str, action_id: str, channel: str) -> tuple[str, list[AmiEvent], str] | None:
        if action == "coreshowchannels":
            return (
                rec.CHANNELS_FOLLOW,
                self.pbx.listed("CoreShowChannel", action_id),
                "CoreShowChannelsComplete",
            )
        if action == "status":
            return rec.STATUS_FOLLOWS, self.pbx.listed("Status", action_id, channel), "StatusComplete"
        if action == "bridgelist":
            return rec.BRIDGES_FOLLOW, self.pbx.bridge_items(action_id), "BridgeListComplete"
        if action == "pjsipshowregistrationsoutbound":
            return (
                rec.REGISTRATIONS_FOLLOW,
                self.pbx.registration_items(action_id),
                "OutboundRegistrationDetailComplete",
            )
        return None

    # ------------------------------------------------------------------ channel actions

    def _redirect(self, msg: RawMessage) -> str:
        return self.pbx.redirect(
            _s(msg, "Channel"),
            _s(msg, "Context"),
            _s(msg, "Exten"),
            _s(msg, "ExtraChannel"),
            _s(msg, "ExtraContext"),
            _s(msg, "ExtraExten"),
        )

    def _hangup(self, msg: RawMessage) -> str:
        self.pbx.hangup(self.pbx.channel(_s(msg, "Channel")), int(_s(msg, "Cause") or 16))
        return rec.HUNG_UP

    def _dtmf(self, msg: RawMessage) -> str:
        ch = self.pbx.channel(_s(msg, "Channel"))
        digit = _s(msg, "Digit")
        for name in ("DTMFBegin", "DTMFEnd"):
            self._publish(
                {
                    "Event": name,
                    "Privilege": rec.PRIVILEGE["call"],
                    **ch.block(),
                    "Digit": digit,
                    "Direction": "Sent",
                }
            )
        return rec.DTMF_QUEUED

    _operations: dict[str, Callable[[AmiSimulator, RawMessage], str]] = {
        "redirect": _redirect,
        "bridge": lambda self, msg: self.pbx.bridge_action(_s(msg, "Channel1"), _s(msg, "Channel2")),
        "blindtransfer": lambda self, msg: self.pbx.blind_transfer(
            _s(msg, "Channel"), _s(msg, "Exten"), _s(msg, "Context") or TRANSFER_CONTEXT
        ),
        "atxfer": lambda self, msg: self.pbx.atxfer(_s(msg, "Channel"), _s(msg, "Exten")),
        "cancelatxfer": lambda self, msg: self.pbx.cancel_atxfer(_s(msg, "Channel")),
        "hangup": _hangup,
        "playdtmf": _dtmf,
    }
