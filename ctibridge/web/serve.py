"""``ctibridge run --config FILE``: build every component from the settings and serve until
SIGINT/SIGTERM (cleanup contexts run in reverse on the way out).

``serving(app, settings, sock)`` is the one way the bridge's HTTP listener starts (``run`` and
``demo``): aiohttp's keep-alive timeout closes idle connections, ``ConnectionGuard`` caps
connections per address and gives a new connection ``header_timeout_s`` to send its first request
headers, and the process's descriptor limit is raised to its hard limit, so one client cannot
use up the descriptors that AMI, GWS and the other widgets need.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import ValidationError

from ctibridge import __version__
from ctibridge.config import Settings, describe_errors
from ctibridge.logs.json_logging import configure_logging
from ctibridge.service.assemble import build
from ctibridge.web.access_log import RedactedAccessLogger
from ctibridge.web.app import create_app
from ctibridge.web.connections import ConnectionGuard, ConnectionLimits
from ctibridge.web.keys import COMPONENTS

log = logging.getLogger("ctibridge.web")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls.cert_file, settings.tls.key_file)
    return context


def raise_descriptor_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@contextlib.asynccontextmanager
async def serving(app: web.Application, settings: Settings, sock: socket.socket) -> AsyncIterator[str]:
    """Serve ``app`` on the bound ``sock`` until the block ends; yields the base URL."""
    http = settings.http
    runner = web.AppRunner(app, keepalive_timeout=http.idle_timeout_s, shutdown_timeout=2.0,
                           access_log_class=RedactedAccessLogger)
    await runner.setup()
    assert runner.server is not None
    guard = ConnectionGuard(ConnectionLimits(per_ip=http.connections_per_ip,
                                             header_timeout_s=http.header_timeout_s,
                                             exempt=frozenset(http.proxies)), runner.server)
    app[COMPONENTS].metrics.count_refusals_with("http_listener", lambda: {
        "connections_per_ip": guard.stats.refused_per_ip, "header_timeout": guard.stats.header_timeouts})
    tls = ssl_context(settings)
    server = await asyncio.get_running_loop().create_server(guard, sock=sock, ssl=tls)
    host, port = sock.getsockname()[:2]
    url = f"{'https' if tls else 'http'}://{host}:{port}"
    log.info("ctibridge %s listening on %s", __version__, url)
    try:
        yield url
    finally:
        server.close()
        await runner.cleanup()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ctibridge run", description="Run the bridge service: the widget, its WebSocket and API, "
        "the operator page and call timelines, /livez, /readyz and /metrics (docs/service.md).")
    parser.add_argument("--config", required=True, metavar="FILE",
                        help="TOML configuration (docs/configuration.md); CTIBRIDGE_* environment wins")
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(args.config)
    except ValidationError as err:
        print("\n".join(f"ctibridge run: {args.config}: {line}" for line in describe_errors(err)),
              file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:  # ValueError: TOML syntax
        print(f"ctibridge run: {args.config}: {err}", file=sys.stderr)
        return 2
    configure_logging(settings.log.level, settings.log.format)
    try:
        sock = socket.create_server((settings.listen.host, settings.listen.port))
    except OSError as err:
        where = f"{settings.listen.host}:{settings.listen.port}"
        print(f"ctibridge run: cannot listen on {where}: {err.strerror}", file=sys.stderr)
        return 2
    raise_descriptor_limit()
    asyncio.run(_serve_until_signal(settings, sock))
    return 0


async def _serve_until_signal(settings: Settings, sock: socket.socket) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = create_app(settings, components=build(settings))  # inside the loop the service runs on
    async with serving(app, settings, sock):
        await stop.wait()
    log.info("ctibridge stopped")
