"""``ctibridge demo``: an agent desktop on 127.0.0.1 where calls arrive that a person answers in
the browser.

Starts the Genesys side, the bridge (the service's ``build`` + ``create_app`` with an in-memory
store, serving the widget at ``/widget/``, the operator page, the timelines and a start page at
``/``), points the WWE stand-in (``/ui/wwe/`` on the GWS simulator) at the widget, then keeps
calls flowing until Ctrl-C or ``--duration`` seconds. It prints the desktop's URL and the agents'
logins; no printed URL holds a secret (the widget gets its JWT from the desktop and its SIP
credentials over the bridge's socket).

``--asterisk real`` (the default when this machine can run it): the Genesys lab — SIP Server
stand-in, GWS simulator, kamailio registrar — around the Asterisk 22 sandbox; the browser phones of
DNs 5001/5002 register on Asterisk over WebSocket. ``sim``: the AMI simulator replaying the bundled
scenarios (a simulation: no phone registers).
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
from ctibridge.gateway.wwe_options import wwe_options
from ctibridge.identity.hmac_token import mint
from ctibridge.lab.sides import HOST, DemoSide, PortsTaken, genesys_side, simulated_side
from ctibridge.lab.start_page import Login, StartPage, add_start_page
from ctibridge.service.assemble import Components, build
from ctibridge.sim import lab_gateway
from ctibridge.sim.gws.auth import bridge_jwt_section
from ctibridge.sim.scenario import Scenario, bundled_scenarios
from ctibridge.web.app import create_app

TOKEN_TTL_S = 12 * 3600
READY_DEADLINE_S = 20.0
# The simulation's order: the everyday flows first, then races, one-sided calls and reconnects.
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
    side: DemoSide
    components: Components
    base_url: str
    secret: bytes

    @property
    def desktop_url(self) -> str:
        return f"{self.side.gws.base_url}/ui/wwe/"

    def operator_token(self) -> str:
        dns = sorted(a.dn for a in self.side.gws.agents.values())
        return mint(self.secret, "operator", dns, TOKEN_TTL_S, time.time())

    def logins(self) -> list[Login]:
        agents = [a for a in self.side.gws.agents.values() if a.dn in self.side.agent_dns]
        return [Login(a.dn, a.username, a.password) for a in agents]

    def banner(self) -> list[str]:
        lines = [f"open:      {self.desktop_url}   (the agent desktop; log in as below)"]
        lines += [f"agent {x.dn}: username {x.username}  password {x.password}" for x in self.logins()]
        lines += [
            f"start:     {self.base_url}/   (links everything: desktop, logins, operator, health)",
            f"operator:  {self.base_url}/operator   (open it from the start page: it needs the token below)",
            f"token:     {self.operator_token()}",
        ]
        return self.side.notes + lines


def _settings(port: int, side: DemoSide, secret: str, event_log: Path) -> Settings:
    origin = f"http://{HOST}:{port}"
    gws = side.gws
    return Settings.model_validate({
        "listen": {"host": HOST, "port": port},
        "ami": {"host": HOST, "port": side.ami_port, "username": side.ami_username, "secret": side.ami_secret,
                "ping_interval_s": 2.0, "reconnect_min_s": 0.2, "reconnect_max_s": 2.0},
        "gws": {"base_url": gws.base_url, "agents": [
            {"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
            for a in gws.agents.values()]},
        "gateway": {"dns": sorted(a.dn for a in gws.agents.values())},
        "auth": {"token_secret": secret, "allowed_origins": [origin, f"http://localhost:{port}"],
                 "verifiers": ["hmac", "jwt"], "jwt": bridge_jwt_section(gws), "sip": side.sip},
        # the WWE stand-in (the GWS simulator's origin) frames the widget; the phone talks to
        # Asterisk's own WebSocket port
        "http": {"frame_ancestors": ["'self'", gws.base_url],
                 "connect_src": list((side.sip or {}).get("ws_servers") or [])},
        "log": {"event_log": str(event_log)},
    })


class PortTaken(RuntimeError):
    pass


def _listen(port: int) -> socket.socket:
    try:
        return socket.create_server((HOST, port))
    except OSError as exc:
        raise PortTaken(f"bridge HTTP: {HOST}:{port} is taken ({exc.strerror}); try --port 0") from exc


@contextlib.asynccontextmanager
async def running_demo(port: int, workdir: Path, side: DemoSide) -> AsyncIterator[Demo]:
    """The bridge on 127.0.0.1 in front of ``side``, ready (AMI resynchronised, every GWS agent
    subscribed), and the WWE stand-in hosting its widget."""
    secret = secrets.token_urlsafe(32)
    sock = _listen(port)  # bound first: the allowed Origin names its port
    bound = sock.getsockname()[1]
    settings = _settings(bound, side, secret, workdir / "events.jsonl")
    components = build(settings)
    app = create_app(settings, components=components)
    demo = Demo(side, components, f"http://{HOST}:{bound}", secret.encode())
    title = f"Genesys and Asterisk side: {side.description}."
    add_start_page(app, StartPage(title, demo.desktop_url, demo.logins(), side.notes, demo.operator_token))
    side.gws.wwe_options = wwe_options(f"{demo.base_url}/widget/", [side.gws.base_url])
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        await _until_connected(components, side)
        for agent in side.gws.agents.values():
            side.gws.set_agent_state(agent.dn, "Ready")
        yield demo
    finally:
        await runner.cleanup()


async def _until_connected(components: Components, side: DemoSide) -> None:
    links = components.pipeline.links
    dns = [a.dn for a in side.gws.agents.values()]
    async with asyncio.timeout(READY_DEADLINE_S):
        # no event tells "all links up": poll, bounded by the deadline
        while links.get("ami") != "connected" or not all(side.gws.subscribed(dn) for dn in dns):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _scenarios(names: list[str] | None) -> list[Scenario]:
    ranked = sorted(
        bundled_scenarios(), key=lambda s: PLAYLIST.index(s.name) if s.name in PLAYLIST else len(PLAYLIST)
    )
    return [s for s in ranked if not names or s.name in names]


def _range(text: str) -> tuple[float, float]:
    """``30-90`` -> (30.0, 90.0); ``45`` -> (45.0, 45.0)."""
    low, _, high = text.partition("-")
    bounds = (float(low), float(high or low))
    if not 0 < bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"not a range of seconds: {text!r}")
    return bounds


async def _main(args: argparse.Namespace, real: bool) -> int:
    scenarios = _scenarios(args.scenario)
    if not scenarios:
        print(f"ctibridge demo: no scenario named {', '.join(args.scenario)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ctibridge-demo-") as tmp:
        side_context = (genesys_side(Path(tmp), args.talk, args.every) if real
                        else simulated_side(scenarios, args.speed))
        try:
            async with side_context as side, running_demo(args.port, Path(tmp), side) as demo:
                print(f"ctibridge demo on {demo.base_url} ({side.description})")
                print("\n".join(demo.banner()), flush=True)
                await _serve(side, args.duration)
        except (PortsTaken, PortTaken) as exc:
            print(f"ctibridge demo: cannot start, a port is taken (another demo running?): {exc}",
                  file=sys.stderr)
            return 2
    print("ctibridge demo: stopped", flush=True)
    return 0


async def _serve(side: DemoSide, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    player = asyncio.create_task(side.play())
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(duration):
            await stop.wait()
    player.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await player


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ctibridge demo", description="an agent desktop on 127.0.0.1 where calls arrive that a person "
        "answers in the browser (the Genesys lab, Asterisk 22 and the bridge, all local)")
    parser.add_argument("--asterisk", choices=("sim", "real", "auto"), default="auto",
                        help="real: the Genesys lab and the Asterisk 22 sandbox; sim: a simulation "
                             "without Asterisk; auto (default): real if this machine can run it")
    parser.add_argument("--port", type=int, default=0,
                        help="bridge HTTP port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--talk", type=_range, default=(30.0, 90.0),
                        help="seconds a customer talks before hanging up, e.g. 30-90 (real)")
    parser.add_argument("--every", type=_range, default=(3.0, 6.0),
                        help="seconds between customer calls to a free DN, e.g. 3-6 (real)")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario speed factor (sim)")
    parser.add_argument("--scenario", action="append", help="only these scenarios (sim; default: all)")
    args = parser.parse_args(argv)
    if args.asterisk == "real" and not lab_gateway.available():
        print("ctibridge demo: the Asterisk sandbox cannot run here (build it with scripts/"
              "install-asterisk-sandbox.sh; needs sipp, kamailio and root); use --asterisk sim",
              file=sys.stderr)
        return 2
    real = args.asterisk == "real" or (args.asterisk == "auto" and lab_gateway.available())
    return asyncio.run(_main(args, real))
