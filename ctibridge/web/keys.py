"""The application's typed keys (``web.AppKey``): the settings and the service's components."""

from __future__ import annotations

from aiohttp import web

from ctibridge.config import Settings
from ctibridge.service.assemble import Components

SETTINGS = web.AppKey("settings", Settings)
COMPONENTS = web.AppKey("components", Components)
