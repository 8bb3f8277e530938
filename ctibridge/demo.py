"""``ctibridge demo``: the whole system on 127.0.0.1 in one process, with calls flowing.

Starts the GWS simulator, the Asterisk side (the AMI simulator; ``--asterisk real`` is not wired
yet, see docs/scenarios.md), the bridge itself (the service's ``build`` + ``create_app`` with an
in-memory store, serving the widget at ``/widget/``, the operator page and the call timelines),
then plays every bundled scenario in a loop until Ctrl-C or ``--duration`` seconds. It prints the
URLs with freshly minted tokens; the widget's buttons act on the simulated calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ctibridge.config import Settings
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import Scenario, bundled_scenarios
from ctibridge.web import pages
from ctibridge.web.app import create_app
from ctibridge.web.auth import mint
from ctibridge.web.keys import Components
from ctibridge.web.service import build

DNS = ("5001", "5002")
HOST = "127.0.0.1"
TOKEN_TTL_S = 12 * 3600
READY_DEADLINE_S = 15.0
# The loop's order: the everyday flows first, then races, one-sided calls and reconnects.
PLAYLIST = (
    "inbound_answered",
    "outbound",
    "hold_retrieve",
    "blind_transfer",
    "consult_transfer_completed",
    "consult_transfer_cancelled",
    "abandon",
    "race_hold_during_transfer",
    "one_side_only",
    "reconnects",
)


@dataclass
class Demo:
    gws: GwsSimulator
    ami: AmiSimulator
    components: Components
    base_url: str
    secret: bytes

    def token(self, agent: str, dns: list[str]) -> str:
        return mint(self.secret, agent, dns, TOKEN_TTL_S, time.time())

    def urls(self) -> list[str]:
        operator = self.token("operator", list(DNS))
        lines = [
            f"widget   {dn}: {self.base_url}/widget/?dn={dn}&token={self.token(f'agent{dn}', [dn])}"
            for dn in DNS
        ]
        lines += [
            f"operator:      {self.base_url}/operator?token={operator}",
            f"timeline:      {self.base_url}/calls/<call id>/timeline?token={operator}",
            f"token:         {operator}",
        ]
        return lines


def _settings(port: int, ami: AmiSimulator, gws: GwsSimulator, secret: str, event_log: Path) -> Settings:
    origin = f"http://{HOST}:{port}"
    return Settings.model_validate(
        dict(
            listen={"host": HOST, "port": port},
            ami={
                "host": HOST,
                "port": ami.port,
                "username": ami.username,
                "secret": ami.secret,
                "ping_interval_s": 2.0,
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 2.0,
            },
            gws={
                "base_url": gws.base_url,
                "agents": [
                    {"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
                    for a in gws.agents.values()
                ],
            },
            gateway={"dns": list(DNS)},
            auth={"token_secret": secret, "allowed_origins": [origin, f"http://localhost:{port}"]},
            log={"event_log": str(event_log)},
        )
    )


@contextlib.asynccontextmanager
async def running_demo(port: int, workdir: Path) -> AsyncIterator[Demo]:
    """Simulators + bridge on 127.0.0.1, ready (AMI resynchronised, every GWS agent subscribed)."""
    gws = GwsSimulator([SimAgent(f"agent{dn}", secrets.token_hex(8), dn) for dn in DNS])
    await gws.start(HOST)
    ami = AmiSimulator(agent_dns=frozenset(DNS), secret=secrets.token_hex(8))
    await ami.start(HOST)
    secret = secrets.token_urlsafe(32)
    sock = socket.create_server((HOST, port))  # bound first: the allowed Origin names its port
    bound = sock.getsockname()[1]
    settings = _settings(bound, ami, gws, secret, workdir / "events.jsonl")
    components = build(settings)
    app = create_app(settings, components=components)
    pages.add_routes(app)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        await _until_connected(components, gws)
        for dn in DNS:
            gws.set_agent_state(dn, "Ready")
        yield Demo(gws, ami, components, f"http://{HOST}:{bound}", secret.encode())
    finally:
        await runner.cleanup()
        await ami.stop()
        await gws.stop()


async def _until_connected(components: Components, gws: GwsSimulator) -> None:
    links = components.pipeline.links
    async with asyncio.timeout(READY_DEADLINE_S):
        # no event tells "all links up": poll, bounded by the deadline
        while links.get("ami") != "connected" or not all(gws.subscribed(dn) for dn in DNS):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def play_forever(runner: ScenarioRunner, scenarios: list[Scenario]) -> None:
    while True:
        for scenario in scenarios:
            print(f"scenario: {scenario.name}: {scenario.summary}", flush=True)
            await runner.play(scenario)


async def _main(args: argparse.Namespace) -> int:
    ranked = sorted(
        bundled_scenarios(), key=lambda s: PLAYLIST.index(s.name) if s.name in PLAYLIST else len(PLAYLIST)
    )
    scenarios = [s for s in ranked if not args.scenario or s.name in args.scenario]
    if not scenarios:
        print(f"ctibridge demo: no scenario named {', '.join(args.scenario)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ctibridge-demo-") as tmp:
        async with running_demo(args.port, Path(tmp)) as demo:
            print(
                f"ctibridge demo on {demo.base_url} (Asterisk: AMI simulator on {HOST}:{demo.ami.port}, "
                f"GWS simulator on {demo.gws.base_url})"
            )
            print("\n".join(demo.urls()), flush=True)
            runner = ScenarioRunner(demo.gws, demo.ami, speed=args.speed)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            player = asyncio.create_task(play_forever(runner, scenarios))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.duration):
                    await stop.wait()
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
            print(f"ctibridge demo: stopped ({len(runner.errors)} scenario steps did not apply)", flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ctibridge demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--asterisk",
        choices=("sim", "real", "auto"),
        default="auto",
        help="Asterisk side: the AMI simulator (sim; auto picks it too, for now)",
    )
    parser.add_argument("--port", type=int, default=8080, help="bridge HTTP port on 127.0.0.1 (0: any)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario speed factor")
    parser.add_argument("--scenario", action="append", help="only these scenarios (default: all)")
    args = parser.parse_args(argv)
    if args.asterisk == "real":
        print("ctibridge demo: --asterisk real is not available yet; use sim", file=sys.stderr)
        return 2
    return asyncio.run(_main(args))
