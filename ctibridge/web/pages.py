"""Operator pages: ``GET /operator`` (live calls and DN registrations) and
``GET /calls/{call_id}/timeline`` (one call's ladder, from the service's timeline index).

The timeline needs an agent token (``?token=`` or ``Authorization: Bearer``) covering the call's
DN, checked before anything else is looked at. It is drawn from the per-call timeline index
(``ctibridge.logs.timeline_index``), so it costs the call's own rows, never a pass over the event
log. The operator page is static (no data in it): its script reads the same REST data the widget's
API offers (``/api/calls`` and ``/readyz`` with the token from the page's URL), every second.
"""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web

from ctibridge.identity.identity import Identity
from ctibridge.logs.timeline import render_ladders
from ctibridge.web.keys import COMPONENTS, ROOT_PAGE
from ctibridge.web.routes import ErrorBody, Handler, Route, bearer_token, error, identify

OPERATOR_FILES = {  # name -> media type; read once: they are part of the package
    "operator.html": "text/html", "operator.js": "text/javascript", "operator.css": "text/css"}
_OPERATOR = {name: files("ctibridge.web").joinpath(name).read_bytes() for name in OPERATOR_FILES}
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def _claims(request: web.Request) -> Identity:
    return await identify(request, request.query.get("token") or bearer_token(request))


def _operator_file(name: str) -> Handler:
    async def serve(request: web.Request) -> web.Response:
        """Static: the page holds no data; its script fetches with the token from its URL."""
        return web.Response(body=_OPERATOR[name], content_type=OPERATOR_FILES[name], headers=NO_STORE)

    return serve


async def call_timeline(request: web.Request) -> web.Response:
    claims = await _claims(request)  # first: no work at all for a caller without a valid token
    call_id = request.match_info["call_id"]
    index = request.app[COMPONENTS].timeline
    dn = index.dn_of(call_id)
    if dn is None:
        raise error(404, "not_found", f"no call {call_id} in the timeline index")
    if not claims.allows(dn):
        raise error(403, "forbidden", "the call belongs to a DN this token does not cover")
    ladder = index.ladder(call_id)
    if ladder is None:
        raise error(404, "not_found", f"no call {call_id} in the timeline index")
    page = render_ladders([ladder], title=f"Call {call_id}")
    return web.Response(text=page, content_type="text/html", headers=NO_STORE)


async def root(request: web.Request) -> web.StreamResponse:
    page = request.app.get(ROOT_PAGE)
    if page is not None:
        return await page(request)
    raise web.HTTPFound("/widget/")


PAGES: tuple[Route, ...] = (
    Route("GET", "/", root, "Redirects to the widget (the demo: its start page)", {302: "text/plain"}),
    Route("GET", "/operator", _operator_file("operator.html"),
          "Operator page: live calls and links (its script uses the token in its URL)", {200: "text/html"}),
    Route("GET", "/operator.js", _operator_file("operator.js"), "The operator page's script",
          {200: "text/javascript"}),
    Route("GET", "/operator.css", _operator_file("operator.css"), "The operator page's style sheet",
          {200: "text/css"}),
    Route("GET", "/calls/{call_id}/timeline", call_timeline,
          "One call's ladder (HTML); token by ?token= or Authorization covering the call's DN",
          {200: "text/html", 401: ErrorBody, 403: ErrorBody, 404: ErrorBody}, authenticated=True),
)
