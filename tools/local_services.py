"""Local peers the tests and the benchmarks start for themselves: one copy of each helper.

Everything binds 127.0.0.1 on a free port and is stopped by whoever started it. Imported by
``tests/fixtures_services.py`` / ``tests/fixtures_asterisk.py`` (pytest puts the repository root
on the path) and by ``bench/`` (run from the repository root: ``python -m bench.run``).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

from ctibridge.gateway.settings import GatewaySettings

# the example secrets of asterisk/regenerate.sh: the sandbox runs exactly asterisk/lab/*.conf
LAB_WEBRTC_SECRET = "example-webrtc-secret"
LAB_AMI_SECRET = "example-ami-secret"


def lab_settings() -> GatewaySettings:
    """The settings of asterisk/lab (tests/asterisk/test_gateway_config.py checks they agree)."""
    return GatewaySettings.model_validate(
        {
            "profile": "lab",
            "dns": "5001-5004",
            "phone_dns": "5003-5004",
            "genesys_host": "127.0.0.2",
            "webrtc_secret": LAB_WEBRTC_SECRET,
            "ami_secret": LAB_AMI_SECRET,
        }
    )


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
    """A redis-server without persistence on a free port, with the controls failure tests need:
    ``kill()`` (SIGKILL: data lost), ``start()`` (same port, empty), ``pause()`` / ``resume()``
    (SIGSTOP / SIGCONT: unresponsive, data kept)."""

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


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A fresh redis-server for the duration of the block; yields its URL."""
    server = RedisProcess()
    server.start()
    try:
        yield server.url
    finally:
        server.kill()
