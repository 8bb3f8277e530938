"""GWS 8.5 API v2 REST surface of the simulator (``/api/v2/...``) and its Bayeux endpoint.

Route names are the ``endpoint`` names of ``GwsSimulator.fail_next``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from aiohttp import web

from ctibridge.sim.gws.auth import set_session_cookie
from ctibridge.sim.gws.calls import call_resource, device_resource
from ctibridge.sim.gws.sim_http import SimulatedError, json_body

if TYPE_CHECKING:
    from ctibridge.sim.gws.server import GwsSimulator

CSRF_HEADER = "X-CSRF-TOKEN"


def add_routes(router: web.UrlDispatcher, sim: GwsSimulator) -> None:
    async def get_me(request: web.Request) -> web.Response:
        agent, cookie, csrf = sim.login(request)
        device = device_resource(agent.device_id, agent.dn, sim.agent_states[agent.dn], sim.base_url)
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
        response.headers[CSRF_HEADER] = csrf
        set_session_cookie(response, cookie)
        return response

    async def post_me(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=True)
        name = (await json_body(request)).get("operationName")
        if name not in ("StartContactCenterSession", "EndContactCenterSession"):
            raise SimulatedError(400, f"Unsupported operation {name!r}")
        if name == "StartContactCenterSession":
            sim.set_agent_state(agent.dn, sim.agent_states[agent.dn])
        return web.json_response({"statusCode": 0})

    async def post_voice(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=True)
        name = (await json_body(request)).get("operationName")
        if name not in ("Ready", "NotReady", "AfterCallWork", "AuxWork"):
            raise SimulatedError(400, f"Unsupported operation {name!r}")
        sim.set_agent_state(agent.dn, str(name))
        return web.json_response({"statusCode": 0})

    async def get_calls(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=False)
        resources = [call_resource(c, sim.base_url, agent.device_id) for c in sim.calls_of(agent.dn)]
        return web.json_response({"statusCode": 0, "calls": resources})

    async def post_dial(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=True)
        body = await json_body(request)
        if request.match_info["device"] != agent.device_id or body.get("operationName") != "Dial":
            raise SimulatedError(400, "Dial needs operationName Dial on the agent's own device")
        sim.dial(agent, body)
        return web.json_response({"statusCode": 0})

    async def post_call(request: web.Request) -> web.Response:
        agent = sim.authorized(request, csrf=True)
        body = await json_body(request)
        sim.perform(agent, request.match_info["id"], str(body.get("operationName", "")), body)
        return web.json_response({"statusCode": 0})

    async def notifications(request: web.Request) -> web.StreamResponse:
        agent = sim.authorized(request, csrf=request.method == "POST" and sim.csrf_on_bayeux)
        return await sim.bayeux.handle_http(request, agent.username)

    router.add_get("/api/v2/me", get_me, name="me")
    router.add_post("/api/v2/me", post_me, name="start")
    router.add_post("/api/v2/me/channels/voice", post_voice, name="voice")
    router.add_get("/api/v2/me/calls", get_calls, name="calls")
    router.add_post("/api/v2/me/calls/{id}", post_call, name="call_op")
    router.add_post("/api/v2/me/devices/{device}/calls", post_dial, name="dial")
    router.add_route("*", "/api/v2/notifications", notifications, name="notifications")
