"""GWS simulator: GWS 8.5 API v2 (``rest_v2``) and Workspace API v3 (``workspace_v3``) REST
surfaces over one simulated T-Server, with real Bayeux at ``/api/v2/notifications`` and
``/workspace/v3/notifications``.

Agents sign in as with Genesys Authentication (``auth``: session cookie, ``GET /api/v2/me``,
RS256 JWTs and their JWKS), or with Basic auth on the login resource as GWS's own examples do.

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
from typing import Any, Protocol

from aiohttp import web

from ctibridge.sim.gws import auth, rest_v2, workspace_v3
from ctibridge.sim.gws.bayeux import Advice, BayeuxServer
from ctibridge.sim.gws.calls import SimCall, call_message, device_message, device_resource, new_call_uuid
from ctibridge.sim.gws.sim_http import SimulatedError, destination_of
from ctibridge.sim.wwe import add_routes as add_wwe_routes

CALLS_CHANNEL = "/v2/me/calls"
DEVICES_CHANNEL = "/v2/me/devices"
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


class CallControl(Protocol):
    """What carries out call operations instead of the simulator (the SIP Server stand-in): it
    changes the calls through the scenario API once the SIP side did it, or hands an operation
    without a SIP part back to ``GwsSimulator.apply``."""

    def carry_out(self, operation: Operation, call: SimCall) -> None: ...


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
        self.wwe_options: dict[str, dict[str, str]] = {}  # what the WWE stand-in at /ui/wwe/ hosts
        self.operations: list[Operation] = []
        self.stalled = 0  # requests held without an answer (``stall_next``)
        self.on_operation: list[OperationListener] = []
        self.call_control: CallControl | None = None  # None: operations change the calls at once
        self._sessions: dict[str, _HttpSession] = {}
        self.issuer = auth.TokenIssuer()
        self._faults: dict[str, list[int]] = {}  # endpoint -> statuses still to fail with
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ life

    def app(self) -> web.Application:
        app = web.Application(middlewares=[auth.page_cors(self), self._fault_middleware])
        auth.add_routes(app.router, self)
        rest_v2.add_routes(app.router, self)
        workspace_v3.add_routes(app.router, self)
        add_wwe_routes(app.router, lambda: self.wwe_options)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound_port}"
        self.issuer.issuer = self.base_url + auth.ISSUER_PATH
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

    def initiate_consultation(self, call_id: str, destination: str, kind: str = "transfer") -> str:
        """A consultation started outside the bridge (the agent's desktop): the call goes Held and a
        Consult call to ``destination`` is Dialing (then Established if ``auto_answer_consult``).
        ``kind`` is "transfer" or "conference". Returns the consult call's id."""
        return self._initiate_consultation(
            self.calls[call_id], {"destination": {"phoneNumber": destination}}, kind
        )

    def consult_dialing(self, call_id: str, destination: str, kind: str = "transfer") -> str:
        """The call is Held and a Consult call to ``destination`` is Dialing (its answer is the
        caller's to publish). Returns the consult call's id."""
        call = self.calls[call_id]
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
        if call.state != "Held":
            self.set_state(call.id, "Held")
        return self._add(consult)

    def add_participant(self, call_id: str, number: str) -> None:
        """A party joined the call (a conference): StatusChange with the new participant list."""
        call = self.calls[call_id]
        call.participants.append(number)
        self._publish_call(call, "StatusChange")

    def complete_consultation(self, call_id: str) -> None:
        """Complete the transfer/conference of either leg (``call_id``) as GWS publishes it."""
        self._complete_consultation(self.calls[call_id], {})

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
        self.bayeux.publish(agent.username, workspace_v3.VOICE_CHANNEL, workspace_v3.dn_message(agent, state))

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
        """The next ``times`` requests to ``endpoint`` fail with ``status``. HTTP endpoints (either
        dialect): ``me`` (login), ``start`` (StartContactCenterSession / activate-channels),
        ``voice``, ``calls`` (re-read), ``call_op``, ``dial``, ``notifications`` (Bayeux HTTP), or
        ``*`` for any of them. Bayeux meta channels (``/meta/handshake``, ``/meta/connect``,
        ``/meta/subscribe``): the Bayeux reply carries ``<status>::...``; 402 advises a handshake."""
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
        name = (request.match_info.route.name or "").removeprefix("v3_")  # one fault name, both dialects
        status = self._take_fault(name)
        if status is None:
            status = self._take_fault("*")
        if status == STALL:
            self.stalled += 1
            await asyncio.Event().wait()  # until the client gives up or the server stops
        try:
            if status is not None:
                raise SimulatedError(status, CSRF_REFUSED if status == 403 else "simulated failure")
            return await handler(request)
        except SimulatedError as exc:
            if exc.status == 403:  # GWS answers its CSRF refusal as plain text
                return web.Response(status=403, text=str(exc))
            return web.json_response({"statusCode": 1, "statusMessage": str(exc)}, status=exc.status)

    # ------------------------------------------------------------------ sessions

    def login(self, request: web.Request) -> tuple[SimAgent, str, str]:
        """The login resource: Basic auth (keeps a valid session cookie of that agent, else opens a
        new session), else the session cookie alone, else a bearer JWT of the simulator's issuer
        (opens a session). Returns (agent, session cookie, CSRF token)."""
        cookie = request.cookies.get(auth.SESSION_COOKIE, "")
        session = self._sessions.get(cookie)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            username = self.issuer.agent_of(header.removeprefix("Bearer "))
            if username is None:
                raise web.HTTPUnauthorized(text="invalid bearer token")
        elif header or session is None:
            username = self._basic_auth(request).username
        else:
            username = session.username
        if session is None or session.username != username:
            cookie = self.open_session(username)
        return self.agents[username], cookie, self._sessions[cookie].csrf

    def open_session(self, username: str) -> str:
        """A new HTTP session for ``username``; its cookie value."""
        cookie = secrets.token_hex(16).upper()
        self._sessions[cookie] = _HttpSession(username)
        return cookie

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

    def authorized(self, request: web.Request, *, csrf: bool) -> SimAgent:
        """The agent of the request's session: 401 without one, 403 on a missing/wrong CSRF token."""
        session = self._sessions.get(request.cookies.get(auth.SESSION_COOKIE, ""))
        if session is None:
            raise SimulatedError(401, "Session expired or not authenticated")
        if csrf and request.headers.get(rest_v2.CSRF_HEADER) != session.csrf:
            raise SimulatedError(403, CSRF_REFUSED)
        return self.agents[session.username]

    # ------------------------------------------------------------------ operations (both dialects)

    def perform(self, agent: SimAgent, call_id: str, name: str, body: dict[str, Any]) -> None:
        """Apply one call operation asked by ``agent``; ``body`` in the v2 shape (``destination:
        {phoneNumber}``, ``dtmfDigits``, ``userData``). Raises SimulatedError like GWS refuses."""
        call = self.calls.get(call_id)
        if call is None or call.dn != agent.dn:
            raise SimulatedError(404, f"Call {call_id} not found")
        apply = self._operations.get(name)
        if apply is None:
            raise SimulatedError(400, f"Unsupported operation {name!r}")
        if name not in call.capabilities:
            raise SimulatedError(400, f"Operation {name} is not allowed in state {call.state}")
        operation = Operation(agent.dn, call.id, name, body)
        self._record(operation)
        if self.call_control is not None:
            self.call_control.carry_out(operation, call)
        else:
            apply(self, call, body)

    def apply(self, call: SimCall, operation: Operation) -> None:
        """Change ``call`` as the operation says, with no SIP side (what ``perform`` does alone)."""
        self._operations[operation.name](self, call, operation.body)

    def dial(self, agent: SimAgent, body: dict[str, Any]) -> str:
        destination = destination_of(body)
        internal = any(a.dn == destination for a in self.agents.values())
        call_type = "Internal" if internal else "Outbound"
        call_id = self.call_dialing(
            agent.dn, destination, call_type=call_type, user_data=body.get("userData")
        )
        self._record(Operation(agent.dn, call_id, "Dial", body))
        return call_id

    # ------------------------------------------------------------------ operations -> call changes

    def _answer(self, call: SimCall, body: dict[str, Any]) -> None:
        self.set_state(call.id, "Established")

    def _hangup(self, call: SimCall, body: dict[str, Any]) -> None:
        self.release(call.id)

    def _hold(self, call: SimCall, body: dict[str, Any]) -> None:
        self.set_state(call.id, "Held")

    def _retrieve(self, call: SimCall, body: dict[str, Any]) -> None:
        self.set_state(call.id, "Established")

    def _send_dtmf(self, call: SimCall, body: dict[str, Any]) -> None:
        """Digits are only recorded (``operations``): GWS publishes nothing for them."""

    def _single_step_transfer(self, call: SimCall, body: dict[str, Any]) -> None:
        destination_of(body)
        self.release(call.id)

    def _update_user_data(self, call: SimCall, body: dict[str, Any]) -> None:
        self.attach_user_data(call.id, dict(body.get("userData") or {}))

    def _initiate_consultation(self, call: SimCall, body: dict[str, Any], kind: str) -> str:
        consult_id = self.consult_dialing(call.id, destination_of(body), kind)
        if self.auto_answer_consult:
            self.set_state(consult_id, "Established")
        return consult_id

    def _single_step_conference(self, call: SimCall, body: dict[str, Any]) -> None:
        self.add_participant(call.id, destination_of(body))

    def _complete_consultation(self, call: SimCall, body: dict[str, Any]) -> None:
        consult = call if call.consult_kind else self.calls[call.consult_peer]
        original = self.calls[consult.consult_peer]
        if consult.consult_kind == "transfer":  # documented order: original first, then consult
            self.release(original.id)
            self.release(consult.id)
            return
        original.participants += consult.participants
        original.consult_peer = ""  # merged, not abandoned: no "back to plain Held" message
        self.release(consult.id)
        self.set_state(original.id, "Established")

    def _reconnect(self, call: SimCall, body: dict[str, Any]) -> None:
        """Cancel the consultation: the consult leg is released, the agent is back with the original."""
        consult = call if call.consult_kind else self.calls[call.consult_peer]
        original = self.calls[consult.consult_peer]
        self.release(consult.id)
        self.set_state(original.id, "Established")

    _operations: dict[str, Callable[[GwsSimulator, SimCall, dict[str, Any]], object]] = {
        "Answer": _answer,
        "Hangup": _hangup,
        "ClearCall": _hangup,
        "Hold": _hold,
        "Retrieve": _retrieve,
        "SendDtmf": _send_dtmf,
        "SingleStepTransfer": _single_step_transfer,
        "SingleStepConference": _single_step_conference,
        "InitiateTransfer": lambda self, call, body: self._initiate_consultation(call, body, "transfer"),
        "InitiateConference": lambda self, call, body: self._initiate_consultation(call, body, "conference"),
        "CompleteTransfer": _complete_consultation,
        "CompleteConference": _complete_consultation,
        "Reconnect": _reconnect,
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
        peer = self.calls.get(call.consult_peer)
        if peer is not None and peer.consult_peer == call.id:  # a consultation ends with this leg
            peer.consult_peer = ""
            if call.consult_kind:  # the consult leg is gone: the held original loses its consult capabilities
                self._publish_call(peer, "StatusChange")

    def _publish_call(self, call: SimCall, notification: str) -> None:
        """Both dialects' messages: each client only gets the channels it subscribed to."""
        agent = self._agent_for_dn(call.dn)
        v2 = call_message(call, notification, self.base_url, agent.device_id)
        self.bayeux.publish(agent.username, CALLS_CHANNEL, v2)
        v3 = workspace_v3.call_message(call, notification, self.peer_conn_id(call))
        self.bayeux.publish(agent.username, workspace_v3.VOICE_CHANNEL, v3)

    def peer_conn_id(self, call: SimCall) -> str:
        peer = self.calls.get(call.consult_peer)
        return peer.conn_id if peer else ""

    def _record(self, operation: Operation) -> None:
        self.operations.append(operation)
        for listener in self.on_operation:
            listener(operation)

    def _agent_for_dn(self, dn: str) -> SimAgent:
        for agent in self.agents.values():
            if agent.dn == dn:
                return agent
        raise KeyError(f"no simulated agent on DN {dn}")
