"""HTTP routes: one table (``ROUTES``) feeds both the router and the OpenAPI description.

Handlers stay small: authentication is ``agent_claims``, the calls come from the store (so a
follower instance answers as well as the owner), actions go to the executor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from ctibridge.hub.protocol import (
    ActionMessage,
    ActionName,
    ActionParams,
    ActionResult,
    CallView,
    protocol_schema,
)
from ctibridge.identity.identity import Identity
from ctibridge.identity.refusal import Refused
from ctibridge.service.metrics import CONTENT_TYPE
from ctibridge.web.health import ReadinessDetail, readiness
from ctibridge.web.keys import COMPONENTS, SETTINGS
from ctibridge.web.openapi import openapi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ActionRequest(BaseModel):
    """``POST /api/calls/{id}/actions`` body: the socket's ``action`` message without id/call_id."""

    model_config = ConfigDict(extra="forbid")

    action: ActionName
    params: ActionParams = ActionParams()


class CallList(BaseModel):
    calls: list[CallView]


class ErrorBody(BaseModel):
    error: str  # unauthorized, forbidden, not_found, bad_request, too_large, rate_limited
    message: str


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    responses: dict[int, type[BaseModel] | str]  # status -> body model, or a media type
    body: type[BaseModel] | None = None
    authenticated: bool = False


def error(status: int, code: str, message: str) -> web.HTTPException:
    exc = web.HTTPException(text=ErrorBody(error=code, message=message).model_dump_json(),
                            content_type="application/json")
    exc.set_status(status)
    if status == 401:
        exc.headers["WWW-Authenticate"] = 'Bearer realm="ctibridge"'
    return exc


def bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _refusal(request: web.Request, refused: Refused) -> web.HTTPException:
    """The HTTP answer to a refused bearer token (401, or 503 when the issuer cannot be reached),
    counted in ``ctibridge_refused_total{where="http"}``."""
    unavailable = refused.reason == "identity_unavailable"
    request.app[COMPONENTS].metrics.refusals.labels(
        "http", "identity_unavailable" if unavailable else "unauthorized").inc()
    if unavailable:
        return error(503, "identity_unavailable", "the token cannot be checked now")
    return error(401, "unauthorized", f"token {refused.reason}: {refused.detail}")


async def identify(request: web.Request, token: str) -> Identity:
    """A bearer token (bridge-minted or WWE-issued JWT) -> the agent, or its refusal raised."""
    try:
        return await request.app[COMPONENTS].verifier.verify_bearer(token)
    except Refused as refused:
        raise _refusal(request, refused) from None


CLAIMS = web.RequestKey("claims", object)  # the request's verified identity (or refusal), once checked


async def verified_claims(request: web.Request) -> Identity | None:
    """The bearer token's agent, or None when it is refused (verified once per request: the rate
    limiter keys on it, then the handler uses it; a refusal is counted when a handler answers it)."""
    if CLAIMS not in request:
        try:
            request[CLAIMS] = await request.app[COMPONENTS].verifier.verify_bearer(bearer_token(request))
        except Refused as refused:
            request[CLAIMS] = refused
    claims = request[CLAIMS]
    return claims if isinstance(claims, Identity) else None


async def agent_claims(request: web.Request) -> Identity:
    claims = await verified_claims(request)
    if claims is None:
        refused = request[CLAIMS]
        assert isinstance(refused, Refused)
        raise _refusal(request, refused)
    return claims


async def _calls_of(request: web.Request, claims: Identity) -> list[dict[str, object]]:
    store = request.app[COMPONENTS].store
    calls: list[dict[str, object]] = []
    for dn in sorted(claims.dns):  # a verified identity holds a set: one stable order
        calls += (await store.snapshot(dn))[1]
    return calls


async def _own_call(request: web.Request, claims: Identity) -> dict[str, object]:
    """The call named in the path if it is one of the agent's; 403 for another DN's, else 404."""
    call_id = request.match_info["call_id"]
    for call in await _calls_of(request, claims):
        if call.get("id") == call_id:
            return call
    components = request.app[COMPONENTS]
    others = [dn for dn in request.app[SETTINGS].gateway.dns if dn not in claims.dns]
    known = components.pipeline.correlator.call(call_id) is not None  # the owner knows every call
    for dn in others if not known else ():  # a follower asks the store
        known = any(c.get("id") == call_id for c in (await components.store.snapshot(dn))[1])
        if known:
            break
    if known:
        raise error(403, "forbidden", "the call belongs to a DN this token does not cover")
    raise error(404, "not_found", f"no live call {call_id}")


# --------------------------------------------------------------------------- handlers


async def list_calls(request: web.Request) -> web.Response:
    claims = await agent_claims(request)
    return web.json_response({"calls": await _calls_of(request, claims)})


async def get_call(request: web.Request) -> web.Response:
    return web.json_response(await _own_call(request, await agent_claims(request)))


async def post_action(request: web.Request) -> web.Response:
    claims = await agent_claims(request)
    await _own_call(request, claims)
    try:
        body = ActionRequest.model_validate_json(await request.read())
        msg = ActionMessage(id=f"http-{id(request):x}", call_id=request.match_info["call_id"],
                            action=body.action, params=body.params)
    except ValidationError as err:
        raise error(400, "bad_request", "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors())) from None
    components = request.app[COMPONENTS]
    if not components.action_limiter.allow(claims.agent):
        components.metrics.refusals.labels("http", "action_rate_limited").inc()
        exc = error(429, "rate_limited", "too many actions for this agent")
        exc.headers["Retry-After"] = "1"
        raise exc
    result = await components.executor.execute(claims, msg)
    return web.Response(text=result.model_dump_json(exclude={"type", "id"}), content_type="application/json")


async def get_livez(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def get_readyz(request: web.Request) -> web.Response:
    claims = await agent_claims(request) if bearer_token(request) else None
    report = await readiness(request.app[COMPONENTS], request.app[SETTINGS],
                             claims.dns if claims is not None else None)
    return web.Response(text=report.model_dump_json(), content_type="application/json",
                        status=200 if report.status == "ready" else 503,
                        headers={"Cache-Control": "no-store"})


async def get_metrics(request: web.Request) -> web.Response:
    body = request.app[COMPONENTS].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def get_openapi(request: web.Request) -> web.Response:
    table: tuple[Route, ...] = request.app[ROUTE_TABLE]
    return web.json_response(openapi(table))


async def get_ws_schema(request: web.Request) -> web.Response:
    return web.json_response(protocol_schema())


async def websocket(request: web.Request) -> web.StreamResponse:
    return await request.app[COMPONENTS].hub.handle(request)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/ws", websocket, "Widget WebSocket (docs/widget-protocol.md); authenticates in its hello",
          {101: "websocket"}),
    Route("GET", "/api/calls", list_calls, "The live calls of the token's DNs",
          {200: CallList, 401: ErrorBody, 429: ErrorBody}, authenticated=True),
    Route("GET", "/api/calls/{call_id}", get_call, "One live call of the token's DNs",
          {200: CallView, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody},
          authenticated=True),
    Route("POST", "/api/calls/{call_id}/actions", post_action,
          "Run an agent action; answers like the socket's action_result",
          {200: ActionResult, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody,
           413: ErrorBody, 429: ErrorBody}, body=ActionRequest, authenticated=True),
    Route("GET", "/livez", get_livez, "The process serves HTTP (always 200)", {200: "application/json"}),
    Route("GET", "/readyz", get_readyz,
          "Ready (200) or not (503); with a token, the links of the token's DNs (no secrets)",
          {200: ReadinessDetail, 503: ReadinessDetail, 401: ErrorBody}),
    Route("GET", "/metrics", get_metrics, "Prometheus metrics", {200: "text/plain"}),
    Route("GET", "/api/openapi.json", get_openapi, "This description", {200: "application/json"}),
    Route("GET", "/api/schema/ws", get_ws_schema, "JSON Schema of the widget protocol messages",
          {200: "application/json"}),
)


ROUTE_TABLE = web.AppKey("routes", tuple[Route, ...])  # every route of the app, for its OpenAPI


def add_routes(app: web.Application, routes: tuple[Route, ...]) -> None:
    """Mount ``routes`` (this module's ``ROUTES`` and the pages') and describe them all."""
    app[ROUTE_TABLE] = app.get(ROUTE_TABLE, ()) + routes
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
