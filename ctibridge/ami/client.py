"""AmiClient: one AMI session to Asterisk, kept alive and in sync, on top of panoramisk 1.4.

What it adds to panoramisk (see docs/research on its defects):

* every inbound frame, decoded whole (UTF-8 safe), goes to ``on_message(raw, t)`` in wire order:
  events, responses and list items (CoreShowChannel, ...);
* life events go to ``on_link(status, t, uptime)`` in the same order: ``connected`` (login
  accepted), ``booted`` (FullyBooted, with Asterisk's uptime), ``shutdown`` (Shutdown event),
  ``lost``, and ``resync_begin``/``resync_end`` around the CoreShowChannels listing that follows
  every login, so a consumer can drop channels it holds that were not listed;
* actions have a deadline and a checked response; an action is sent at most once (panoramisk would
  re-send it after a reconnect, which for a Redirect minutes later is wrong);
* liveness by our own Ping with a float deadline (panoramisk never checks the Pong), judged on the
  link's own bytes: a Pong late behind a backlog of events is no loss while those events arrive;
* one reconnect loop (panoramisk's, with our exponential backoff), quiet logs with a reason.

The AMI user needs ``read=call,dialplan,system`` (system: FullyBooted and Shutdown) and, for the
resync, ``write=system`` or ``reporting`` (CoreShowChannels, PJSIPShowRegistrationsOutbound; Ping
needs none). ``booted`` and ``shutdown`` are also in the message stream itself (FullyBooted,
Shutdown), where ``core.ami_parse.parse_ami`` finds them: a consumer feeding both callbacks into
the core should take them from one of the two only.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action
from pydantic import BaseModel, ConfigDict, SecretStr

from ctibridge.ami.errors import (
    AmiActionError,
    AmiConnectionLost,
    AmiError,
    AmiLoginRefused,
    AmiNotConnected,
    AmiTimeout,
)
from ctibridge.ami.protocol import FramedAmiProtocol
from ctibridge.core import defaults
from ctibridge.core.ami_parse import RawMessage
from ctibridge.core.pacing import Backoff

log = logging.getLogger("ctibridge.ami")

OnMessage = Callable[[RawMessage, float], object]
OnLink = Callable[[str, float, float | None], object]
OnSent = Callable[[RawMessage, float], object]
Predicate = Callable[[RawMessage], bool]

# A FullyBooted uptime this much below "previous uptime + time since" means Asterisk restarted.
RESTART_SLACK_S = 2.0


class AmiSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = 5038
    username: str
    secret: SecretStr
    ping_interval: float = defaults.AMI_PING_INTERVAL_S
    ping_timeout: float = defaults.AMI_PING_DEADLINE_S
    action_timeout: float = defaults.STEP_TIMEOUT_S
    boot_timeout: float = 3.0  # wait this long for FullyBooted after login, then resync anyway
    backoff_initial: float = defaults.RECONNECT_MIN_S
    backoff_max: float = defaults.RECONNECT_MAX_S


def registration_dn(uri: str) -> str:
    """``sip:5001@10.0.0.5:5060`` -> ``5001`` (the DN an outbound registration is for)."""
    return uri.split(":", 1)[-1].split("@", 1)[0]


def redacted(action: Mapping[str, Any]) -> RawMessage:
    return {k: ("********" if k.lower() == "secret" else v) for k, v in action.items()}


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with AmiClient's reconnect policy, liveness and quiet logs."""

    def __init__(self, client: AmiClient, **config: Any) -> None:
        super().__init__(**config)
        self.client = client
        self.connecting: asyncio.Future[Any] | None = None
        self.retry: asyncio.TimerHandle | None = None

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        self.retry = None
        self.connecting = super().connect(*args, **kwargs)
        return self.connecting

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled():
            return
        if self.client.closing:
            if f.exception() is None:
                f.result()[0].close()
            return
        error = f.exception()
        if error is not None:
            self.client.connect_failed(error)
            self.retry = self.loop.call_later(self.client.backoff.next_delay(random.random()), self.connect)
            return
        super().connection_made(f)

    def ping(self) -> None:
        """Disabled: AmiClient pings with a float interval and acts on a missing Pong."""

    def dispatch(self, event: Any) -> list[str]:
        """Disabled: every frame already reached AmiClient, in order, from FramedAmiProtocol."""
        return []

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        self.awaiting_actions.clear()  # never re-sent: AmiClient fails them instead
        self.client.session_lost(exc)
        if not self.client.closing:
            self.retry = self.loop.call_later(self.client.backoff.next_delay(random.random()), self.connect)


class AmiClient:
    def __init__(
        self,
        settings: AmiSettings,
        on_message: OnMessage,
        on_link: OnLink,
        on_sent: OnSent | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.on_message, self.on_link, self.on_sent = on_message, on_link, on_sent
        self.clock = clock
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max, jitter=0.1)
        self.closing = False
        self.logged_in = False
        self.ready = False  # logged in, resynchronised and registrations read
        self.callback_errors = 0
        self._manager: _Manager | None = None
        self._session = 0  # bumped at every login and loss, so stale tasks notice
        self._announced = False  # "connected" was reported for the current TCP session
        self._login_id = ""
        self._refusal: AmiLoginRefused | None = None
        self._lost_reason = ""
        self._failures = 0
        self._booted = asyncio.Event()
        self._last_boot: tuple[float, float] | None = None  # (uptime, t)
        self._changed = asyncio.Event()
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._watchers: list[tuple[Predicate, asyncio.Future[RawMessage]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._registrations: dict[str, str] = {}
        self._last_read = 0.0  # clock() when the latest frame was read: any bytes prove the link alive
        self.oversized_frames = 0  # input dropped by the framer (a frame over core.ami_parse.MAX_FRAME)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout_s: float | None = None) -> None:
        """Start connecting; the client then reconnects by itself until ``close()``. With a
        timeout, wait until logged in and resynchronised (raises AmiLoginRefused/TimeoutError)."""
        s = self.settings
        self._manager = _Manager(
            self,
            host=s.host,
            port=s.port,
            username=s.username,
            secret=s.secret.get_secret_value(),
            events="on",
            loop=asyncio.get_running_loop(),
            log=logging.getLogger("ctibridge.ami.panoramisk"),
            protocol_factory=lambda: FramedAmiProtocol(self),
        )
        # Never awaited: a refused connect is retried by the Manager itself (one retry loop).
        self._manager.connect()
        self._spawn(self._keep_alive())
        if timeout_s is not None:
            await self.wait_ready(timeout_s)

    async def wait_ready(self, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while not self.ready:
                if self._refusal is not None:
                    raise self._refusal
                await self._changed.wait()

    async def close(self) -> None:
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        manager = self._manager
        if manager is not None:
            if manager.retry is not None:
                manager.retry.cancel()
            if manager.connecting is not None:
                manager.connecting.cancel()
            manager.close()
        self._fail_in_flight("client closed")
        self.logged_in = self.ready = False
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def drop_connection(self, reason: str) -> None:
        """Abort the TCP connection (dead peer, failed resync); the reconnect loop takes over."""
        manager = self._manager
        if manager is None or manager.protocol is None or manager.protocol.closed:
            return
        self._lost_reason = reason
        self.logged_in = self.ready = False  # at once: the loss is reported when asyncio closes
        manager.protocol.transport.abort()

    def registrations(self) -> dict[str, str]:
        """Outbound registration state per DN toward Genesys (``Registered``, ``Rejected``, ...)."""
        return dict(self._registrations)

    # ------------------------------------------------------------------ actions

    async def send(self, action: Mapping[str, Any], *, timeout_s: float | None = None) -> RawMessage:
        """Send one action and return its ``Response: Success`` message."""
        reply = await self._request(action, as_list=False, timeout_s=timeout_s)
        return self._checked(action, reply.raw)

    async def send_list(
        self, action: Mapping[str, Any], *, timeout_s: float | None = None
    ) -> list[RawMessage]:
        """Send a list action (EventList) and return its items, without the ack and ``...Complete``."""
        # as_list=None lets panoramisk tell a list ack from a plain Error; as_list=True would never
        # resolve on an Error, as_list=False would resolve on the ack alone.
        reply = await self._request(action, as_list=None, timeout_s=timeout_s)
        if not isinstance(reply, list):
            self._checked(action, reply.raw)
            return []
        ack, *items = (message.raw for message in reply)
        self._checked(action, ack)
        return [item for item in items if not str(item.get("Event", "")).endswith("Complete")]

    def watch(self, predicate: Predicate) -> asyncio.Future[RawMessage]:
        """A future for the first inbound message (from now on) that matches ``predicate``.
        Register it before sending the action whose effect it confirms."""
        future: asyncio.Future[RawMessage] = asyncio.get_running_loop().create_future()
        self._watchers.append((predicate, future))
        return future

    async def _request(
        self, action: Mapping[str, Any], *, as_list: bool | None, timeout_s: float | None
    ) -> Any:
        name = str(action.get("Action", "?"))
        if not self.logged_in or self._manager is None:
            raise AmiNotConnected(f"AMI not logged in: {name} not sent")
        timeout = self.settings.action_timeout if timeout_s is None else timeout_s
        sent = Action(dict(action), as_list=as_list)
        future = self._manager.send_action(sent, as_list=as_list)
        self._in_flight.add(future)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AmiTimeout(name, timeout) from None
        finally:
            self._in_flight.discard(future)
            self._manager.protocol.responses.pop(sent.id, None)

    @staticmethod
    def _checked(action: Mapping[str, Any], reply: RawMessage) -> RawMessage:
        if reply.get("Response") not in ("Success", "Goodbye"):
            raise AmiActionError(str(action.get("Action", "?")), str(reply.get("Message", reply)))
        return reply

    # ------------------------------------------------------------------ called by the protocol

    def frame_received(self, raw: RawMessage) -> None:
        t = self._last_read = self.clock()
        self._invoke(self.on_message, raw, t)
        self._resolve_watchers(raw)
        event = raw.get("Event")
        if "Response" in raw and raw.get("ActionID") == self._login_id:
            self._login_answered(raw, t)
        elif event == "FullyBooted":
            self._fully_booted(raw, t)
        elif event == "Shutdown":
            log.info("AMI: Asterisk is shutting down (Restart: %s)", raw.get("Restart", "?"))
            self._link("shutdown", t)
        elif event == "OutboundRegistrationDetail":
            self._registrations[registration_dn(str(raw.get("ClientUri", "")))] = str(raw.get("Status", ""))
        elif event == "Registry" and raw.get("ChannelType") == "PJSIP":
            self._registrations[registration_dn(str(raw.get("Username", "")))] = str(raw.get("Status", ""))

    def frame_oversized(self) -> None:
        self.oversized_frames += 1
        log.warning("AMI: dropped input larger than one AMI frame may be (%d so far)", self.oversized_frames)

    def action_sent(self, action: Mapping[str, Any]) -> None:
        if str(action.get("Action", "")).lower() == "login":
            self._login_id = str(action["ActionID"])
            self._booted = asyncio.Event()
        if self.on_sent is not None:
            self._invoke(self.on_sent, redacted(action), self.clock())

    # ------------------------------------------------------------------ called by the Manager

    def connect_failed(self, exc: BaseException) -> None:
        self._failures += 1
        level = logging.WARNING if self._failures == 1 else logging.DEBUG
        log.log(level, "AMI: cannot connect to %s (%s); retrying", self._address, exc)

    def session_lost(self, exc: Any) -> None:
        reason = self._lost_reason or _describe_loss(exc)
        self._lost_reason = ""
        self.logged_in = self.ready = False
        self._session += 1
        self._fail_in_flight(f"AMI connection lost ({reason})")
        if not self._announced:  # never logged in (refused login, closed at once): no news
            log.debug("AMI: connection to %s closed before login (%s)", self._address, reason)
            return
        self._announced = False
        log.warning("AMI: connection to %s lost (%s); reconnecting", self._address, reason)
        self._link("lost", self.clock())

    # ------------------------------------------------------------------ internals

    @property
    def _address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _login_answered(self, raw: RawMessage, t: float) -> None:
        if raw.get("Response") != "Success":
            self._refusal = AmiLoginRefused(
                f"AMI login refused for user {self.settings.username!r}: {raw.get('Message', '')}"
            )
            log.error("%s", self._refusal)
            self._notify()
            return
        if self._failures:
            log.info("AMI: logged in after %d failed connection attempts", self._failures)
        self._failures = 0
        self._refusal = None
        self.backoff.reset()
        self.logged_in = self._announced = True
        self._session += 1
        self._link("connected", t)
        self._spawn(self._after_login(self._session))

    def _fully_booted(self, raw: RawMessage, t: float) -> None:
        uptime = float(str(raw.get("Uptime") or 0))
        if self._last_boot is not None:
            last_uptime, last_t = self._last_boot
            if uptime + RESTART_SLACK_S < last_uptime + (t - last_t):
                log.info("AMI: Asterisk restarted (uptime %.0fs): channel ids held before are stale", uptime)
        self._last_boot = (uptime, t)
        self._booted.set()
        self._link("booted", t, uptime)

    async def _after_login(self, session: int) -> None:
        try:
            async with asyncio.timeout(self.settings.boot_timeout):
                await self._booted.wait()
        except TimeoutError:
            log.warning("AMI: no FullyBooted after login (does the AMI user have read=system?)")
        if session != self._session:
            return
        self._link("resync_begin", self.clock())
        try:
            await self.send_list({"Action": "CoreShowChannels"})
        except AmiConnectionLost:
            return  # the next login resynchronises again
        except AmiError as exc:
            self.drop_connection(f"resync failed: {exc}")
            return
        if session != self._session:
            return
        self._link("resync_end", self.clock())
        try:
            await self.send_list({"Action": "PJSIPShowRegistrationsOutbound"})
        except AmiError as exc:
            log.info("AMI: outbound registrations not available: %s", exc)
        if session == self._session:
            self.ready = True
            self._notify()

    async def _keep_alive(self) -> None:
        # Not ``while True``: a Ping that fails as close() cancels this task can swallow the
        # cancellation (asyncio.wait_for), and close() would wait for this loop forever.
        while not self.closing:
            await asyncio.sleep(self.settings.ping_interval)
            if not self.logged_in:
                continue
            session, sent = self._session, self.clock()
            try:
                await self.send({"Action": "Ping"}, timeout_s=self.settings.ping_timeout)
            except AmiTimeout:
                # The Pong may be queued behind a burst the consumer is still working through;
                # asyncio runs the reads that were ready before this timeout, so a silent link
                # is one that sent nothing at all since the Ping.
                if session == self._session and self._last_read < sent:
                    self.drop_connection(f"no Pong within {self.settings.ping_timeout:.1f}s, nothing read")
            except AmiError:
                pass  # lost meanwhile: the reconnect loop is already at work

    def _link(self, status: str, t: float, uptime: float | None = None) -> None:
        self._invoke(self.on_link, status, t, uptime)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _resolve_watchers(self, raw: RawMessage) -> None:
        pending = []
        for predicate, future in self._watchers:
            if future.done():
                continue
            if predicate(raw):
                future.set_result(raw)
            else:
                pending.append((predicate, future))
        self._watchers = pending

    def _fail_in_flight(self, reason: str) -> None:
        for future in list(self._in_flight):
            if not future.done():
                future.set_exception(AmiConnectionLost(reason))
        self._in_flight.clear()

    def _invoke(self, callback: Callable[..., object], *args: Any) -> None:
        """Run a consumer callback; its failure is logged and counted, never lost or fatal."""
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                self._spawn(result)
        except Exception:
            self._callback_failed(callback)

    def _spawn(self, awaitable: Any) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._callback_failed(task, task.exception())

    def _callback_failed(self, what: object, exc: BaseException | None = None) -> None:
        self.callback_errors += 1
        log.error("AMI: callback %r failed; the adapter goes on", what, exc_info=exc or True)


def _describe_loss(exc: Any) -> str:
    if exc is None:
        return "closed by peer"
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return f"Asterisk shut down (Restart: {exc.get('Restart', '?')})"  # panoramisk passes the Shutdown event
