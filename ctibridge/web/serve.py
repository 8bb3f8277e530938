"""``ctibridge run --config FILE``: build every component from the settings and serve until
SIGINT/SIGTERM (aiohttp's runner turns both into a clean shutdown: cleanup contexts in reverse)."""

from __future__ import annotations

import argparse
import logging
import ssl
import sys

from aiohttp import web
from pydantic import ValidationError

from ctibridge.config import Settings, describe_errors
from ctibridge.service.assemble import build
from ctibridge.web.access_log import RedactedAccessLogger
from ctibridge.web.app import create_app


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls.cert_file, settings.tls.key_file)
    return context


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ctibridge run", description="run the bridge service")
    parser.add_argument("--config", required=True, help="TOML configuration (see docs/config.example.toml)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(args.config)
    except ValidationError as err:
        print("\n".join(f"{args.config}: {line}" for line in describe_errors(err)), file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{args.config}: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def make_app() -> web.Application:  # built inside the loop the service runs on
        return create_app(settings, components=build(settings))

    web.run_app(make_app(), host=settings.listen.host, port=settings.listen.port,
                ssl_context=ssl_context(settings), print=None, shutdown_timeout=5.0,
                access_log_class=RedactedAccessLogger)
    return 0
