"""Workspace API v3 surface of the simulator (``/workspace/v3/...``): the same simulated calls,
published on ``/workspace/v3/voice`` in the v3 shape (CallStateChanged with kebab-case
capabilities, KV-list userData, participants ``{number, role}``), operations at
``POST /workspace/v3/voice/calls/{id}/{operation}`` with ``{"data": {...}}``.

v3 has no CSRF token; the session cookie comes from ``GET /workspace/v3/current-session`` (the
simulator accepts Basic auth there, where real Workspace takes an OAuth token).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ctibridge.core.gws_parse import V3_RENAMED_CAPABILITIES, v3_capability_to_v2
from ctibridge.sim.gws.auth import set_session_cookie
from ctibridge.sim.gws.calls import SimCall
from ctibridge.sim.gws.sim_http import json_body

if TYPE_CHECKING:
    from ctibridge.sim.gws.server import GwsSimulator, SimAgent

VOICE_CHANNEL = "/workspace/v3/voice"
_V2_TO_V3 = {v2: v3 for v3, v2 in V3_RENAMED_CAPABILITIES.items()}
OK = {"status": {"code": 0}}


def capability(v2_name: str) -> str:
    """``SingleStepTransfer`` -> ``single-step-transfer``; ``Hangup`` -> ``release``."""
    return _V2_TO_V3.get(v2_name) or re.sub(r"(?<!^)(?=[A-Z])", "-", v2_name).lower()


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {"key": key, "type": "kvlist", "value": [_kv(k, v) for k, v in value.items()]}
    kind = "int" if isinstance(value, int) and not isinstance(value, bool) else "str"
    return {"key": key, "type": kind, "value": value if kind == "int" else str(value)}


def call_resource(call: SimCall, peer_conn_id: str = "") -> dict[str, Any]:
    role = "RoleDestination" if call.state == "Dialing" or call.call_type == "Consult" else "RoleOrigination"
    return {
        "type": "Call",
        "id": call.id,
        "connId": call.conn_id,
        "callUuid": call.call_uuid,
        "previousConnId": "",
        "parentConnId": peer_conn_id if call.consult_kind else "",
        "callType": call.call_type,
        "state": call.state,
        "phoneNumber": call.dn,
        "dnis": call.dnis,
        "ani": call.ani,
        "participants": [{"number": n, "role": role} for n in call.participants],
        "capabilities": [capability(c) for c in call.capabilities],
        "userData": [_kv(k, v) for k, v in call.user_data.items()],
        "extensions": [],
        "duration": call.duration,
    }


def call_message(call: SimCall, notification: str, peer_conn_id: str = "") -> dict[str, Any]:
    return {
        "messageType": "CallStateChanged",
        "notificationType": "StateChange" if notification == "StatusChange" else notification,
        "call": call_resource(call, peer_conn_id),
    }


def dn_message(agent: SimAgent, agent_state: str) -> dict[str, Any]:
    return {
        "messageType": "DnStateChanged",
        "dn": {
            "number": agent.dn,
            "switchName": "SIP_Switch",
            "agentId": agent.username,
            "agentState": agent_state,
            "agentWorkMode": "Unknown",
            "capabilities": ["ready", "not-ready"],
        },
    }


def add_routes(router: web.UrlDispatcher, sim: GwsSimulator) -> None:
    async def current_session(request: web.Request) -> web.Response:
        agent, cookie, _ = sim.login(request)
        response = web.json_response(
            {**OK, "data": {"user": {"userName": agent.username, "agentLogin": agent.username}}}
        )
        set_session_cookie(response, cookie)
        return response

    async def activate_channels(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=False)
        await json_body(request)
        sim.set_agent_state(agent.dn, sim.agent_states[agent.dn])
        return web.json_response(OK)

    async def get_calls(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=False)
        calls = [call_resource(c, sim.peer_conn_id(c)) for c in sim.calls_of(agent.dn)]
        return web.json_response({**OK, "data": {"calls": calls}})

    async def post_call(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=False)
        name = v3_capability_to_v2(request.match_info["operation"])
        sim.perform(agent, request.match_info["id"], name, _as_v2_body(name, await json_body(request)))
        return web.json_response(OK)

    async def make_call(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=False)
        sim.dial(agent, _as_v2_body("Dial", await json_body(request)))
        return web.json_response(OK)

    async def notifications(request: web.Request) -> web.StreamResponse:
        agent = sim.authorized(request, csrf=False)
        return await sim.bayeux.handle_http(request, agent.username)

    router.add_get("/workspace/v3/current-session", current_session, name="v3_me")
    router.add_post("/workspace/v3/activate-channels", activate_channels, name="v3_start")
    router.add_get("/workspace/v3/voice/calls", get_calls, name="v3_calls")
    router.add_post("/workspace/v3/voice/calls/{id}/{operation}", post_call, name="v3_call_op")
    router.add_post("/workspace/v3/voice/make-call", make_call, name="v3_dial")
    router.add_route("*", "/workspace/v3/notifications", notifications, name="v3_notifications")


def _as_v2_body(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """v3 ``{"data": {destination, dtmfDigits, userData}}`` -> the v2 body the simulator applies."""
    data = body.get("data")
    if not isinstance(data, dict):
        data = {}
    v2: dict[str, Any] = {"operationName": name}
    if data.get("destination"):
        v2["destination"] = {"phoneNumber": data["destination"]}
    for key in ("dtmfDigits", "userData"):
        if key in data:
            v2[key] = data[key]
    return v2
