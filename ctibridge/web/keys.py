"""The application's typed keys (``web.AppKey``): the settings, the service's components, and the
page ``/`` shows instead of redirecting to the widget (``ctibridge demo``'s start page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ctibridge.config import Settings
from ctibridge.service.assemble import Components

SETTINGS = web.AppKey("settings", Settings)
COMPONENTS = web.AppKey("components", Components)
RootPage = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROOT_PAGE: web.AppKey[RootPage] = web.AppKey("root_page")
