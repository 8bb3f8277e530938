"""pytest plugin (loaded by tests/conftest.py): real service processes for tests.

Fixtures
--------
``redis_server``  -> ``str``: URL (``redis://127.0.0.1:PORT/0``) of a fresh, empty redis-server
                     started for the test on a free loopback port (no persistence) and stopped after.
``redis_process`` -> ``RedisProcess``: the same server with its controls, for failure tests:
                     ``url``, ``kill()`` (SIGKILL: data lost), ``start()`` (same port, empty),
                     ``pause()`` / ``resume()`` (SIGSTOP / SIGCONT: unresponsive, data kept).
``store_factory`` -> ``await store_factory(**options)``: parametrised over ``memory`` and ``redis``;
                     every store it makes shares one backend (see the fixture).

The helpers themselves (``free_port``, ``wait_for_port``, ``RedisProcess``) live in
``tools/local_services.py``, which the benchmarks use too.

Needs ``redis-server`` on PATH (Debian package ``redis-server``, see scripts/install-redis.sh).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from ctibridge.store import MemoryStore, RedisStore, StateStore
from tools.local_services import RedisProcess


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def redis_server(redis_process: RedisProcess) -> str:
    return redis_process.url


# --------------------------------------------------------------------------- state stores

StoreFactory = Callable[..., Awaitable[StateStore]]


@pytest.fixture(params=["memory", "redis"])
async def store_factory(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """``await store_factory(**options)`` -> a store sharing one backend with every other store the
    factory made in this test: the same ``MemoryStore``, or a new ``RedisStore`` (another bridge
    instance) on the test's redis-server. Parametrised, so a test using it runs on both."""
    made: list[StateStore] = []
    shared: list[MemoryStore] = []

    async def make(**options: object) -> StateStore:
        if request.param == "memory":
            if not shared:
                shared.append(MemoryStore(**options))  # type: ignore[arg-type]
            return shared[0]
        store = RedisStore(request.getfixturevalue("redis_server"), **options)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made + shared:
        await store.aclose()
