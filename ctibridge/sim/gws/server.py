"""GWS 8.5 (API v2) simulator: REST surface + real Bayeux at ``/api/v2/notifications``.

Drive it from a scenario (``call_ringing``, ``set_state``, ``release``, ...) on the same timeline as
the Asterisk side, and break it on purpose (``drop_sessions``, ``restart``, ``fail_next``,
``expire_session``). Operations the bridge POSTs change the simulated calls and publish what real
GWS would; every operation is also recorded in ``operations`` and handed to ``on_operation``
listeners, so a combined scenario can mirror it on Asterisk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ctibridge.sim.gws.bayeux import Advice, BayeuxServer
from ctibridge.sim.gws.calls import (
    SimCall,
    call_message,
    call_resource,
    device_message,
    device_resource,
    new_call_uuid,
)

CALLS_CHANNEL = "/v2/me/calls"
DEVICES_CHANNEL = "/v2/me/devices"
CSRF_HEADER = "X-CSRF-TOKEN"
CSRF_REFUSED = "Missing or invalid Csrf token"  # GWS's 403 body, per its CSRF documentation
STALL = 0  # pseudo status of a fault: never answer


@dataclass(frozen=True)
class SimAgent:
    username: str
    password: str
    dn: str
    device_id: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass
class _HttpSession:
    username: str
    csrf: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass(frozen=True)
class Operation:
    """One operation the bridge asked for: what the combined scenario mirrors on Asterisk."""

    dn: str
    call_id: str
    name: str
    body: dict[str, Any]


OperationListener = Callable[[Operation], None]


class SimulatedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class GwsSimulator:
    """``await sim.start()`` then point clients at ``sim.base_url``; ``await sim.stop()``."""

    def __init__(
        self,
        agents: Sequence[SimAgent],
        *,
        advice: Advice | None = None,
        csrf_on_bayeux: bool = True,
        auto_answer_consult: bool = True,
    ) -> None:
        self.agents = {a.username: a for a in agents}
        self.bayeux = BayeuxServer(advice, meta_fault=self._take_fault)
        self.csrf_on_bayeux = csrf_on_bayeux
        self.auto_answer_consult = auto_answer_consult
        self.calls: dict[str, SimCall] = {}
        self.agent_states: dict[str, str] = {a.dn: "NotReady" for a in agents}
        self.operations: list[Operation] = []
        self.on_operation: list[OperationListener] = []
        self._sessions: dict[str, _HttpSession] = {}
        self._faults: dict[str, list[int]] = {}  # endpoint -> statuses still to fail with
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ life

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._fault_middleware])
        r = app.router
        r.add_get("/api/v2/me", self._get_me, name="me")
        r.add_post("/api/v2/me", self._post_me, name="start")
        r.add_post("/api/v2/me/channels/voice", self._post_voice, name="voice")
        r.add_get("/api/v2/me/calls", self._get_calls, name="calls")
        r.add_post("/api/v2/me/calls/{id}", self._post_call, name="call_op")
        r.add_post("/api/v2/me/devices/{device}/calls", self._post_dial, name="dial")
        r.add_route("*", "/api/v2/notifications", self._notifications, name="notifications")
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        self.bayeux.drop_clients()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ scenario API

    def call_ringing(
        self,
        dn: str,
        call_uuid: str = "",
        ani: str = "",
        dnis: str = "",
        user_data: dict[str, Any] | None = None,
        call_type: str = "Inbound",
    ) -> str:
        """A call offered to ``dn`` (StatusChange Ringing). Returns the call id (= CallUUID)."""
        call = SimCall(
            dn,
            call_uuid or new_call_uuid(),
            "Ringing",
            call_type,
            [ani] if ani else [],
            dnis=dnis or dn,
            ani=ani,
            user_data=dict(user_data or {}),
        )
        return self._add(call)

    def call_dialing(
        self,
        dn: str,
        destination: str,
        call_uuid: str = "",
        call_type: str = "Outbound",
        user_data: dict[str, Any] | None = None,
    ) -> str:
        """An outbound call from ``dn`` (StatusChange Dialing), as after a Dial."""
        call = SimCall(
            dn,
            call_uuid or new_call_uuid(),
            "Dialing",
            call_type,
            [destination],
            dnis=destination,
            user_data=dict(user_data or {}),
        )
        return self._add(call)

    def set_state(self, call_id: str, state: str, notification: str = "StatusChange") -> None:
        """Move a call to ``state`` (Ringing, Dialing, Established, Held, Released) and publish it."""
        call = self.calls[call_id]
        call.state = state
        self._publish_call(call, notification)
        if state == "Released":
            self._forget(call)

    def release(self, call_id: str) -> None:
        self.set_state(call_id, "Released")

    def attach_user_data(self, call_id: str, user_data: dict[str, Any]) -> None:
        call = self.calls[call_id]
        call.user_data.update(user_data)
        self._publish_call(call, "AttachedDataChanged")

    def set_agent_state(self, dn: str, state: str) -> None:
        """Publish a DeviceStateChangeMessage (Ready, NotReady, ...)."""
        self.agent_states[dn] = state
        agent = self._agent_for_dn(dn)
        device = device_resource(agent.device_id, dn, state, self.base_url)
        self.bayeux.publish(agent.username, DEVICES_CHANNEL, device_message(device))

    def publish_raw(self, dn: str, channel: str, data: Any) -> int:
        """Publish anything (malformed messages included) to ``dn``'s agent. Returns receivers."""
        return self.bayeux.publish(self._agent_for_dn(dn).username, channel, data)

    def subscribed(self, dn: str, channel: str = CALLS_CHANNEL) -> bool:
        return self.bayeux.subscribed(self._agent_for_dn(dn).username, channel)

    def calls_of(self, dn: str) -> list[SimCall]:
        return [c for c in self.calls.values() if c.dn == dn]

    # ------------------------------------------------------------------ faults

    def drop_sessions(self) -> None:
        """Forget every Bayeux client: the next connect gets ``402::Unknown client``."""
        self.bayeux.drop_clients()

    def restart(self) -> None:
        """GWS restarted: Bayeux clients and HTTP sessions are gone (401 until re-login); calls
        live on in T-Server, so a REST re-read shows them."""
        self._sessions.clear()
        self.bayeux.drop_clients()

    def expire_session(self, username: str) -> None:
        """One agent's HTTP session times out (its JSESSIONID now gets 401)."""
        self._sessions = {k: s for k, s in self._sessions.items() if s.username != username}
        self.bayeux.drop_clients(username)

    def fail_next(self, status: int, times: int = 1, endpoint: str = "*") -> None:
        """The next ``times`` requests to ``endpoint`` fail with ``status``. Endpoints: ``me``,
        ``start``, ``voice``, ``calls``, ``call_op``, ``dial``, ``notifications`` (HTTP level), or a
        Bayeux meta channel (``/meta/handshake``, ``/meta/connect``, ``/meta/subscribe``: the Bayeux
        reply carries ``<status>::...``; 402 advises a new handshake), or ``*`` for any HTTP endpoint."""
        self._faults.setdefault(endpoint, []).extend([status] * times)

    def stall_next(self, endpoint: str, times: int = 1) -> None:
        """The next ``times`` requests to HTTP ``endpoint`` get no answer at all (client timeouts)."""
        self.fail_next(STALL, times, endpoint)

    def _take_fault(self, endpoint: str) -> int | None:
        pending = self._faults.get(endpoint)
        return pending.pop(0) if pending else None

    @web.middleware
    async def _fault_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        name = request.match_info.route.name or ""
        status = self._take_fault(name)
        if status is None:
            status = self._take_fault("*")
        if status == STALL:
            await asyncio.Event().wait()  # until the client gives up or the server stops
        if status is not None:
            if status == 403:
                return web.Response(status=403, text=CSRF_REFUSED)
            return web.json_response({"statusCode": 1, "statusMessage": "simulated failure"}, status=status)
        try:
            return await handler(request)
        except SimulatedError as exc:
            if exc.status == 403:
                return web.Response(status=403, text=str(exc))
            return web.json_response({"statusCode": 1, "statusMessage": str(exc)}, status=exc.status)

    # ------------------------------------------------------------------ sessions

    def _login(self, request: web.Request) -> tuple[_HttpSession, str]:
        agent = self._basic_auth(request)
        cookie = request.cookies.get("JSESSIONID", "")
        session = self._sessions.get(cookie)
        if session is None or session.username != agent.username:
            cookie = secrets.token_hex(16).upper()
            session = self._sessions[cookie] = _HttpSession(agent.username)
        return session, cookie

    def _basic_auth(self, request: web.Request) -> SimAgent:
        header = request.headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", ""
        agent = self.agents.get(user)
        if not header.startswith("Basic ") or agent is None or agent.password != password:
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="GWS"'})
        return agent

    def _session(self, request: web.Request, *, csrf: bool) -> SimAgent:
        session = self._sessions.get(request.cookies.get("JSESSIONID", ""))
        if session is None:
            raise SimulatedError(401, "Session expired or not authenticated")
        if csrf and request.headers.get(CSRF_HEADER) != session.csrf:
            raise SimulatedError(403, CSRF_REFUSED)
        return self.agents[session.username]

    # ------------------------------------------------------------------ REST handlers

    async def _get_me(self, request: web.Request) -> web.Response:
        session, cookie = self._login(request)
        agent = self.agents[session.username]
        device = device_resource(agent.device_id, agent.dn, self.agent_states[agent.dn], self.base_url)
        user = {
            "id": secrets.token_hex(16),
            "userName": agent.username,
            "firstName": agent.username,
            "lastName": "sim",
            "roles": ["ROLE_AGENT"],
            "devices": [device],
            "channels": ["voice"],
        }
        response = web.json_response({"statusCode": 0, "user": user})
        response.headers["X-CSRF-HEADER"] = CSRF_HEADER
        response.headers[CSRF_HEADER] = session.csrf
        response.set_cookie("JSESSIONID", cookie, path="/", httponly=True)
        return response

    async def _post_me(self, request: web.Request) -> web.Response:
        agent = self._session(request, csrf=True)
        name = (await _json_body(request)).get("operationName")
        if name not in ("StartContactCenterSession", "EndContactCenterSession"):
            raise SimulatedError(400, f"Unsupported operation {name!r}")
        if name == "StartContactCenterSession":
            self.set_agent_state(agent.dn, self.agent_states[agent.dn])
        return web.json_response({"statusCode": 0})

    async def _post_voice(self, request: web.Request) -> web.Response:
        agent = self._session(request, csrf=True)
        name = (await _json_body(request)).get("operationName")
        if name not in ("Ready", "NotReady", "AfterCallWork", "AuxWork"):
            raise SimulatedError(400, f"Unsupported operation {name!r}")
        self.set_agent_state(agent.dn, str(name))
        return web.json_response({"statusCode": 0})

    async def _get_calls(self, request: web.Request) -> web.Response:
        agent = self._session(request, csrf=False)
        resources = [call_resource(c, self.base_url, agent.device_id) for c in self.calls_of(agent.dn)]
        return web.json_response({"statusCode": 0, "calls": resources})

    async def _post_dial(self, request: web.Request) -> web.Response:
        agent = self._session(request, csrf=True)
        body = await _json_body(request)
        if request.match_info["device"] != agent.device_id or body.get("operationName") != "Dial":
            raise SimulatedError(400, "Dial needs operationName Dial on the agent's own device")
        destination = _destination(body)
        internal = any(a.dn == destination for a in self.agents.values())
        call_id = self.call_dialing(
            agent.dn,
            destination,
            call_type="Internal" if internal else "Outbound",
            user_data=body.get("userData") or {},
        )
        self._record(Operation(agent.dn, call_id, "Dial", body))
        return web.json_response({"statusCode": 0})

    async def _post_call(self, request: web.Request) -> web.Response:
        agent = self._session(request, csrf=True)
        body = await _json_body(request)
        call = self.calls.get(request.match_info["id"])
        if call is None or call.dn != agent.dn:
            raise SimulatedError(404, f"Call {request.match_info['id']} not found")
        name = str(body.get("operationName", ""))
        apply = self._operations.get(name)
        if apply is None:
            raise SimulatedError(400, f"Unsupported operation {name!r}")
        if name not in call.capabilities:
            raise SimulatedError(400, f"Operation {name} is not allowed in state {call.state}")
        self._record(Operation(agent.dn, call.id, name, body))
        apply(self, call, body)
        return web.json_response({"statusCode": 0})

    async def _notifications(self, request: web.Request) -> web.StreamResponse:
        is_post = request.method == "POST"
        agent = self._session(request, csrf=is_post and self.csrf_on_bayeux)
        return await self.bayeux.handle_http(request, agent.username)

    # ------------------------------------------------------------------ operations -> call changes

    def _answer(self, call: SimCall, body: dict[str, Any]) -> None:
        self.set_state(call.id, "Established")

    def _hangup(self, call: SimCall, body: dict[str, Any]) -> None:
        self._end_consultation(call)
        self.release(call.id)

    def _hold(self, call: SimCall, body: dict[str, Any]) -> None:
        self.set_state(call.id, "Held")

    def _retrieve(self, call: SimCall, body: dict[str, Any]) -> None:
        self.set_state(call.id, "Established")

    def _send_dtmf(self, call: SimCall, body: dict[str, Any]) -> None:
        """Digits are only recorded (``operations``): GWS publishes nothing for them."""

    def _single_step_transfer(self, call: SimCall, body: dict[str, Any]) -> None:
        _destination(body)
        self.release(call.id)

    def _update_user_data(self, call: SimCall, body: dict[str, Any]) -> None:
        self.attach_user_data(call.id, dict(body.get("userData") or {}))

    def _initiate_consultation(self, call: SimCall, body: dict[str, Any], kind: str) -> None:
        destination = _destination(body)
        consult = SimCall(
            call.dn,
            new_call_uuid(),
            "Dialing",
            "Consult",
            [destination],
            dnis=destination,
            user_data=dict(call.user_data),
            consult_peer=call.id,
            consult_kind=kind,
        )
        call.consult_peer = consult.id
        self.set_state(call.id, "Held")
        self._add(consult)
        if self.auto_answer_consult:
            self.set_state(consult.id, "Established")

    def _complete_consultation(self, call: SimCall, body: dict[str, Any]) -> None:
        consult = call if call.consult_kind else self.calls[call.consult_peer]
        original = self.calls[consult.consult_peer]
        if consult.consult_kind == "transfer":  # documented order: original first, then consult
            self.release(original.id)
            self.release(consult.id)
            return
        original.participants += consult.participants
        original.consult_peer = ""
        self.release(consult.id)
        self.set_state(original.id, "Established")

    def _end_consultation(self, call: SimCall) -> None:
        peer = self.calls.get(call.consult_peer)
        if peer is not None:
            peer.consult_peer = ""
            if call.consult_kind:  # the consult leg ends: the held original shows its plain capabilities
                self._publish_call(peer, "StatusChange")

    _operations: dict[str, Callable[[GwsSimulator, SimCall, dict[str, Any]], None]] = {
        "Answer": _answer,
        "Hangup": _hangup,
        "ClearCall": _hangup,
        "Hold": _hold,
        "Retrieve": _retrieve,
        "SendDtmf": _send_dtmf,
        "SingleStepTransfer": _single_step_transfer,
        "InitiateTransfer": lambda self, call, body: self._initiate_consultation(call, body, "transfer"),
        "InitiateConference": lambda self, call, body: self._initiate_consultation(call, body, "conference"),
        "CompleteTransfer": _complete_consultation,
        "CompleteConference": _complete_consultation,
        "UpdateUserData": _update_user_data,
        "AttachUserData": _update_user_data,
    }

    # ------------------------------------------------------------------ internals

    def _add(self, call: SimCall) -> str:
        self.calls[call.id] = call
        self._publish_call(call, "StatusChange")
        return call.id

    def _forget(self, call: SimCall) -> None:
        self.calls.pop(call.id, None)

    def _publish_call(self, call: SimCall, notification: str) -> None:
        agent = self._agent_for_dn(call.dn)
        self.bayeux.publish(
            agent.username, CALLS_CHANNEL, call_message(call, notification, self.base_url, agent.device_id)
        )

    def _record(self, operation: Operation) -> None:
        self.operations.append(operation)
        for listener in self.on_operation:
            listener(operation)

    def _agent_for_dn(self, dn: str) -> SimAgent:
        for agent in self.agents.values():
            if agent.dn == dn:
                return agent
        raise KeyError(f"no simulated agent on DN {dn}")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise SimulatedError(400, "Body is not JSON") from exc
    if not isinstance(body, dict):
        raise SimulatedError(400, "Body is not a JSON object")
    return body


def _destination(body: dict[str, Any]) -> str:
    destination = body.get("destination")
    number = destination.get("phoneNumber") if isinstance(destination, dict) else None
    if not isinstance(number, str) or not number:
        raise SimulatedError(400, "destination.phoneNumber is required")
    return number
