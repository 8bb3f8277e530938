"""The application's typed keys and the components one service instance is made of."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ctibridge.config import Settings
from ctibridge.eventlog import EventLogWriter
from ctibridge.hub.server import Hub
from ctibridge.pipeline import Pipeline
from ctibridge.store import StateStore
from ctibridge.web.actions import ActionExecutor
from ctibridge.web.auth import TokenVerifier
from ctibridge.web.metrics import Metrics
from ctibridge.web.ratelimit import RateLimiter
from ctibridge.web.relay import ActionRelay
from ctibridge.web.role import Role


@dataclass
class Components:
    """Built by ``ctibridge.web.service.build`` (tests build them around their own peers)."""

    store: StateStore
    hub: Hub
    pipeline: Pipeline
    role: Role
    executor: ActionExecutor
    verifier: TokenVerifier
    metrics: Metrics
    rate_limiter: RateLimiter
    log_writer: EventLogWriter | None = None
    relay: ActionRelay | None = None  # Redis mode: followers' actions go to the owner


SETTINGS = web.AppKey("settings", Settings)
COMPONENTS = web.AppKey("components", Components)
