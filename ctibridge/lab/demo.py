"""``ctibridge demo``: the whole system on 127.0.0.1 in one process, with calls flowing.

Starts the GWS simulator, the Asterisk side, the bridge itself (the service's ``build`` +
``create_app`` with an in-memory store, serving the widget at ``/widget/``, the operator page and
the call timelines), then keeps calls flowing until Ctrl-C or ``--duration`` seconds, and prints
the URLs with freshly minted tokens; the widget's buttons act on the calls.

Asterisk side (``--asterisk``): ``sim`` is the AMI simulator playing every bundled scenario in a
loop on DNs 5001/5002; ``real`` is the Asterisk 22 sandbox (``ctibridge asterisk-sandbox build``)
with sipp as Genesys and as the phones of DNs 5003/5004 (needs root for its chroot); ``auto``
takes ``real`` when this machine can run it, else ``sim``.
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
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.config import Settings
from ctibridge.gateway.wwe_options import wwe_options
from ctibridge.identity.hmac_token import mint
from ctibridge.service.assemble import Components, build
from ctibridge.sim import lab_gateway
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.gws.auth import bridge_jwt_section
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import Scenario, bundled_scenarios
from ctibridge.web.app import create_app
from ctibridge.web.serve import serving

SIM_DNS = ("5001", "5002")
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

Player = Callable[[GwsSimulator], Coroutine[Any, Any, None]]


@dataclass
class AsteriskSide:
    description: str
    dns: tuple[str, ...]
    ami_port: int
    ami_username: str
    ami_secret: str
    play: Player  # keeps calls flowing until cancelled


@contextlib.asynccontextmanager
async def simulated_asterisk(scenarios: list[Scenario], speed: float) -> AsyncIterator[AsteriskSide]:
    ami = AmiSimulator(agent_dns=frozenset(SIM_DNS), secret=secrets.token_hex(8))
    port = await ami.start(HOST)

    async def play(gws: GwsSimulator) -> None:
        runner = ScenarioRunner(gws, ami, speed=speed)
        while True:
            for scenario in scenarios:
                print(f"scenario: {scenario.name}: {scenario.summary}", flush=True)
                await runner.play(scenario)

    try:
        yield AsteriskSide(f"AMI simulator on {HOST}:{port}", SIM_DNS, port, ami.username, ami.secret, play)
    finally:
        await ami.stop()


@contextlib.asynccontextmanager
async def real_asterisk(workdir: Path) -> AsyncIterator[AsteriskSide]:
    async with lab_gateway.lab_gateway(workdir) as gateway:
        settings = gateway.settings

        async def play(gws: GwsSimulator) -> None:
            mirror = lab_gateway.GenesysMirror(gws)
            client = AmiClient(
                AmiSettings(
                    port=settings.ami_port, username=settings.ami_user, secret=SecretStr(gateway.ami_secret)
                ),
                on_message=mirror.on_ami,
                on_link=lambda *_: None,
            )
            await client.start(timeout_s=READY_DEADLINE_S)
            try:
                await lab_gateway.play_lab_flows(gateway, mirror)
            finally:
                await client.close()

        yield AsteriskSide(
            f"Asterisk 22 sandbox, AMI on {HOST}:{settings.ami_port}, sipp as Genesys",
            lab_gateway.PHONE_DNS,
            settings.ami_port,
            settings.ami_user,
            gateway.ami_secret,
            play,
        )


@dataclass
class Demo:
    gws: GwsSimulator
    side: AsteriskSide
    components: Components
    base_url: str
    secret: bytes

    def token(self, agent: str, dns: list[str]) -> str:
        return mint(self.secret, agent, dns, TOKEN_TTL_S, time.time())

    def urls(self) -> list[str]:
        operator = self.token("operator", list(self.side.dns))
        lines = [
            f"widget   {dn}: {self.base_url}/widget/?dn={dn}&token={self.token(f'agent{dn}', [dn])}"
            for dn in self.side.dns
        ]
        lines += [  # the WWE stand-in hosts the widget, which signs in with the stand-in's JWT
            f"wwe      {a.dn}: {self.gws.base_url}/ui/wwe/  (log in as {a.username} / {a.password})"
            for a in self.gws.agents.values()
        ]
        lines += [
            f"operator:      {self.base_url}/operator?token={operator}",
            f"timeline:      {self.base_url}/calls/<call id>/timeline?token={operator}",
            f"token:         {operator}",
        ]
        return lines


def _settings(port: int, side: AsteriskSide, gws: GwsSimulator, secret: str, event_log: Path) -> Settings:
    origin = f"http://{HOST}:{port}"
    return Settings.model_validate(
        dict(
            listen={"host": HOST, "port": port},
            ami={
                "host": HOST,
                "port": side.ami_port,
                "username": side.ami_username,
                "secret": side.ami_secret,
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
            gateway={"dns": list(side.dns)},
            auth={"token_secret": secret, "allowed_origins": [origin, f"http://localhost:{port}"],
                  "verifiers": ["hmac", "jwt"], "jwt": bridge_jwt_section(gws)},
            log={"event_log": str(event_log)},
        )
    )


@contextlib.asynccontextmanager
async def running_demo(port: int, workdir: Path, side: AsteriskSide) -> AsyncIterator[Demo]:
    """GWS simulator + bridge on 127.0.0.1 in front of ``side``, ready (AMI resynchronised, every
    GWS agent subscribed)."""
    gws = GwsSimulator([SimAgent(f"agent{dn}", secrets.token_hex(8), dn) for dn in side.dns])
    await gws.start(HOST)
    secret = secrets.token_urlsafe(32)
    sock = socket.create_server((HOST, port))  # bound first: the allowed Origin names its port
    bound = sock.getsockname()[1]
    gws.wwe_options = wwe_options(f"http://{HOST}:{bound}/widget/", [gws.base_url])
    settings = _settings(bound, side, gws, secret, workdir / "events.jsonl")
    components = build(settings)
    app = create_app(settings, components=components)
    try:
        async with serving(app, settings, sock) as base_url:
            await _until_connected(components, gws, side.dns)
            for dn in side.dns:
                gws.set_agent_state(dn, "Ready")
            yield Demo(gws, side, components, base_url, secret.encode())
    finally:
        await gws.stop()


async def _until_connected(components: Components, gws: GwsSimulator, dns: tuple[str, ...]) -> None:
    links = components.pipeline.links
    async with asyncio.timeout(READY_DEADLINE_S):
        # no event tells "all links up": poll, bounded by the deadline
        while links.get("ami") != "connected" or not all(gws.subscribed(dn) for dn in dns):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _scenarios(names: list[str] | None) -> list[Scenario]:
    ranked = sorted(
        bundled_scenarios(), key=lambda s: PLAYLIST.index(s.name) if s.name in PLAYLIST else len(PLAYLIST)
    )
    return [s for s in ranked if not names or s.name in names]


async def _main(args: argparse.Namespace) -> int:
    scenarios = _scenarios(args.scenario)
    if not scenarios:
        print(f"ctibridge demo: no scenario named {', '.join(args.scenario)}", file=sys.stderr)
        return 2
    real = args.asterisk == "real" or (args.asterisk == "auto" and lab_gateway.available())
    with tempfile.TemporaryDirectory(prefix="ctibridge-demo-") as tmp:
        side_context = real_asterisk(Path(tmp)) if real else simulated_asterisk(scenarios, args.speed)
        async with side_context as side, running_demo(args.port, Path(tmp), side) as demo:
            print(
                f"ctibridge demo on {demo.base_url} (Asterisk: {side.description}; "
                f"GWS simulator on {demo.gws.base_url})"
            )
            print("\n".join(demo.urls()), flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            player = asyncio.create_task(side.play(demo.gws))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.duration):
                    await stop.wait()
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
            print("ctibridge demo: stopped", flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ctibridge demo",
                                     description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument(
        "--asterisk",
        choices=("sim", "real", "auto"),
        default="auto",
        help="sim: AMI simulator; real: the Asterisk 22 sandbox with sipp; auto: real if possible",
    )
    parser.add_argument("--port", type=int, default=8080, help="bridge HTTP port on 127.0.0.1 (0: any)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario speed factor (sim)")
    parser.add_argument("--scenario", action="append", help="only these scenarios (sim; default: all)")
    args = parser.parse_args(argv)
    if args.asterisk == "real" and not lab_gateway.available():
        print(
            "ctibridge demo: the Asterisk sandbox cannot run here (build it with scripts/"
            "install-asterisk-sandbox.sh; needs sipp and root); use --asterisk sim",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_main(args))
