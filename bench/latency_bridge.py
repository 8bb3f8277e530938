"""The bridge under load, in its own process: the service's own components and application.

    python -m bench.latency_bridge --ami-port P --http-port H --dns 10000-11999 --secret S --out F
                                   [--redis URL]

Built exactly as ``ctibridge run`` builds it (``ctibridge.service.assemble.build`` + ``create_app``),
with one addition: ``hub.publish`` is wrapped to note, for every delta, the wall time at which it
was handed to the hub minus ``delta.t`` (the time the AMI adapter read the event's bytes). Every
second it also notes its own CPU time, so the caller can tell how busy the bridge was. Samples go
to ``--out`` (JSON) on SIGTERM, before the shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from ctibridge.config import Settings
from ctibridge.core.deltas import Delta
from ctibridge.service.assemble import build
from ctibridge.web.app import create_app

ORIGIN = "http://bench.invalid"
AMI_USER, AMI_SECRET = "ctibridge", "ctibridge-sim"


def settings(args: argparse.Namespace) -> Settings:
    store: dict[str, Any] = {"kind": "memory"}
    if args.redis:
        store = {"kind": "redis", "redis_url": args.redis}
    return Settings(
        listen={"host": "127.0.0.1", "port": args.http_port},
        ami={"host": "127.0.0.1", "port": args.ami_port, "username": args.ami_user,
             "secret": args.ami_secret},
        gws={"base_url": "http://127.0.0.1:9", "agents": []},
        gateway={"trunk_endpoint": "genesys", "dns": [args.dns]},
        store=store,
        auth={"token_secret": args.secret, "allowed_origins": [ORIGIN]},
        log={"level": "WARNING", "event_log": args.event_log or None},
    )


async def serve(args: argparse.Namespace) -> None:
    components = build(settings(args))
    published: list[tuple[float, float]] = []  # (wall time handed to the hub, that minus delta.t)
    cpu: list[tuple[float, float]] = []
    original = components.hub.publish

    def publish(deltas: Any) -> Any:
        # The hub gets each delta once, from the store's subscription, once it is stored.
        deltas = list(deltas)
        now = time.time()
        for d in deltas:
            if isinstance(d, Delta):
                published.append((now, now - d.t))
        return original(deltas)

    components.hub.publish = publish  # type: ignore[method-assign]
    app = create_app(settings(args), components=components, widget_dir=None)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.http_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        while not stop.is_set():
            cpu.append((time.time(), time.process_time()))
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        cpu.append((time.time(), time.process_time()))
        # Written before the shutdown, which closes 2,000 WebSockets and may be slow under load.
        Path(args.out).write_text(json.dumps({"published": published, "cpu": cpu}))  # noqa: ASYNC240
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ami-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--dns", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--redis", default="")
    parser.add_argument("--ami-user", default=AMI_USER)
    parser.add_argument("--ami-secret", default=AMI_SECRET)
    parser.add_argument("--event-log", default="", help="the service's event log (JSON Lines) here")
    parser.add_argument("--profile", default="", help="write a pyinstrument profile (text) here")
    args = parser.parse_args()
    if not args.profile:
        asyncio.run(serve(args))
        return
    from pyinstrument import Profiler
    profiler = Profiler(interval=0.001)
    with profiler:
        asyncio.run(serve(args))
    Path(args.profile).write_text(profiler.output_text(show_all=False, color=False))


if __name__ == "__main__":
    main()
