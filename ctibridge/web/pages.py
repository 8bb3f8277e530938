"""Operator pages: ``GET /operator`` (live calls and DN registrations) and
``GET /calls/{call_id}/timeline`` (one call's ladder, from the service's event log).

Mount with ``add_routes(app)``. The timeline needs an agent token (``?token=`` or
``Authorization: Bearer``) covering the call's DN. The operator page is static (no data in it):
its script reads the same REST data the widget's API offers (``/api/calls`` with the token from
the page's URL, ``/health``), every second.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from ctibridge.core.correlator import Correlator, CorrelatorSettings
from ctibridge.identity.identity import Identity
from ctibridge.logs.eventlog import read_records
from ctibridge.logs.replay import replay
from ctibridge.logs.timeline import render_timeline
from ctibridge.web.keys import COMPONENTS, SETTINGS
from ctibridge.web.routes import bearer_token, error, identify

OPERATOR_PAGE = Path(__file__).with_name("operator.html")


async def _claims(request: web.Request) -> Identity:
    return await identify(request, request.query.get("token") or bearer_token(request))


async def operator_page(request: web.Request) -> web.Response:
    """Static: the page itself holds no data; its script fetches with the token from its URL."""
    return web.Response(
        body=OPERATOR_PAGE.read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def call_timeline(request: web.Request) -> web.Response:
    claims = await _claims(request)
    settings = request.app[SETTINGS]
    if settings.log.event_log is None:
        raise error(404, "not_found", "no event log: set [log] event_log to get timelines")
    call_id = request.match_info["call_id"]
    writer = request.app[COMPONENTS].log_writer
    if writer is not None:
        writer.flush()  # the ladder shows everything up to this request
    core_settings = request.app[COMPONENTS].pipeline.correlator.settings  # the live core's
    page = await asyncio.to_thread(
        _timeline_page, core_settings, Path(settings.log.event_log), call_id, claims
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


def _timeline_page(
    core_settings: CorrelatorSettings, log_path: Path, call_id: str, claims: Identity
) -> str:
    """Replaying the log through a fresh core gives the live call ids: the core is deterministic."""
    if not log_path.exists():
        raise error(404, "not_found", "the event log has not been written yet")
    records = list(read_records(log_path))
    deltas = replay(records, Correlator(core_settings)).deltas
    mine = [d for d in deltas if d.call.get("id") == call_id]
    if not mine:
        raise error(404, "not_found", f"no call {call_id} in the event log")
    if not claims.allows(mine[0].dn):
        raise error(403, "forbidden", "the call belongs to a DN this token does not cover")
    return render_timeline(records, mine, call_id, title=f"Call {call_id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/operator", operator_page)
    app.router.add_get("/calls/{call_id}/timeline", call_timeline)
