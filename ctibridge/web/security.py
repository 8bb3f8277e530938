"""Security headers on every response: a Content-Security-Policy (the widget and the operator
page load only their own scripts and styles, connect only to this origin and the configured
WebSocket peers, and are framed only by the configured origins: WWE), no MIME sniffing, no
referrer (tokens travel in the widget's URL), and camera/geolocation off, microphone for the
page itself (the phone)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import MutableMapping

from aiohttp import web
from aiohttp.typedefs import Middleware

from ctibridge.config import Http
from ctibridge.logs.timeline import STYLE
from ctibridge.web.routes import Handler

# The timeline page is one document with one inline style sheet and no script: allowed by hash.
TIMELINE_STYLE = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode() + "'"


def content_security_policy(http: Http, style_src: str = "'self'") -> str:
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        f"style-src {style_src}",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src " + " ".join(["'self'", *http.connect_src]),
        "frame-ancestors " + " ".join(http.frame_ancestors or ["'none'"]),
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ))


def security_headers(http: Http) -> Middleware:
    policies = {False: content_security_policy(http), True: content_security_policy(http, TIMELINE_STYLE)}

    @web.middleware
    async def add_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # errors carry the headers too
            _set(exc.headers, policies[False])
            raise
        _set(response.headers, policies[request.path.endswith("/timeline")])
        return response

    return add_headers


def _set(headers: MutableMapping[str, str], policy: str) -> None:
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Permissions-Policy", "camera=(), geolocation=(), microphone=(self)")
