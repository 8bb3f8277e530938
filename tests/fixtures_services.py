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

Needs ``redis-server`` on PATH (Debian package ``redis-server``, see scripts/install-redis.sh).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from ctibridge.store import MemoryStore, RedisStore, StateStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, deadline_s: float = 5.0) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > end:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {deadline_s}s") from None
            time.sleep(0.01)  # polling a condition with a deadline, not waiting for time to pass


class RedisProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.proc is not None:
            self.resume()
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)


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
