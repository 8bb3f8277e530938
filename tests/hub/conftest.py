"""Hub fixtures: ``bridge(**hub_options)`` builds store + Hub + a real aiohttp server on 127.0.0.1
(the store from ``store_factory``, so each test runs on memory and on Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from widget_rig import ORIGIN, Bridge, confirm, verify

from ctibridge.hub.server import Hub
from ctibridge.store import StateStore

BridgeFactory = Callable[..., Awaitable[Bridge]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def bridge(store_factory) -> AsyncIterator[BridgeFactory]:
    """``await bridge(store=None, log_length=..., **hub_options)`` -> a running Bridge."""
    running: list[tuple[Hub, TestServer, list[asyncio.Task[None]]]] = []

    async def start(store: StateStore | None = None, *, log_length: int = 1000, follow: bool = False,
                    **hub_options: Any) -> Bridge:
        store = store or await store_factory(log_length=log_length)
        options: dict[str, Any] = {"authenticate": verify, "origin_allowed": lambda origin: origin == ORIGIN,
                                   "on_action": confirm, **hub_options}
        hub = Hub(store, **options)
        app = web.Application()
        app.router.add_get("/ws", hub.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        tasks = [asyncio.create_task(hub.follow(store))] if follow else []
        running.append((hub, server, tasks))
        return Bridge(store, hub, server)

    yield start
    for hub, server, tasks in running:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.aclose()
        await server.close()
