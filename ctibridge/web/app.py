"""The application factory: routes, request limits, CORS, and the long-lived parts as cleanup
contexts, so start-up order (store, event log, role: pipeline + AMI + GWS) and the reverse
shutdown order are visible here in one place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from ctibridge.config import Settings
from ctibridge.service.assemble import Components
from ctibridge.web import pages
from ctibridge.web.app_metrics import wire_metrics
from ctibridge.web.keys import COMPONENTS, SETTINGS
from ctibridge.web.routes import ROUTES, Handler, add_routes, error, verified_claims
from ctibridge.web.security import security_headers
from ctibridge.web.static import add_widget_routes

WIDGET_DIR = Path(__file__).resolve().parents[1] / "widget"
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"


@web.middleware
async def api_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For ``/api/``: Origin allow-list with CORS headers, and a rate limit per verified agent (429);
    a request without a valid token is limited per address, so junk tokens cannot evict (or
    spend) a real agent's bucket."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    settings, components = request.app[SETTINGS], request.app[COMPONENTS]
    origin = request.headers.get("Origin")
    if not settings.auth.origin_allowed(origin):
        components.metrics.refusals.labels("http", "origin").inc()
        raise error(403, "forbidden", f"origin {origin} is not allowed")
    if origin is not None and request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204, headers={
            "Access-Control-Allow-Methods": CORS_METHODS, "Access-Control-Allow-Headers": CORS_HEADERS,
            "Access-Control-Max-Age": "600"})
    else:
        claims = await verified_claims(request)  # a refused token: the handler answers 401
        key = f"agent:{claims.agent}" if claims is not None else f"addr:{request.remote}"
        if not components.rate_limiter.allow(key):
            components.metrics.refusals.labels("http", "rate_limited").inc()
            exc = error(429, "rate_limited", "too many requests for this token")
            exc.headers["Retry-After"] = "1"
            raise exc
        response = await handler(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    """The store, and the action relay that shares its Redis."""
    yield
    components = app[COMPONENTS]
    if components.relay is not None:
        await components.relay.aclose()
    await components.store.aclose()


async def _event_log_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    app[COMPONENTS].log_writer.close()


async def _role_ctx(app: web.Application) -> AsyncIterator[None]:
    """Owner: pipeline + AMI client + GWS sessions; follower: the store's stream (see role)."""
    task = asyncio.create_task(app[COMPONENTS].role.run(), name="ctibridge-role")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_widgets(app: web.Application) -> None:
    await app[COMPONENTS].hub.aclose()


def create_app(settings: Settings, *, components: Components, widget_dir: Path | None = WIDGET_DIR
               ) -> web.Application:
    app = web.Application(client_max_size=settings.auth.max_request_bytes,
                          middlewares=[security_headers(settings.http), api_guard])
    app[SETTINGS] = settings
    app[COMPONENTS] = components
    wire_metrics(components)
    app.cleanup_ctx.extend([_store_ctx, _event_log_ctx, _role_ctx])
    app.on_shutdown.append(_close_widgets)
    add_routes(app, ROUTES)
    add_routes(app, pages.PAGES)
    if widget_dir is not None and widget_dir.is_dir():
        add_widget_routes(app, widget_dir)
    return app
