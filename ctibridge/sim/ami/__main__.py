"""Standalone AMI simulator: ``python -m ctibridge.sim.ami --secret-file FILE``.

Plays the Asterisk side of the gateway on 127.0.0.1 for a ``ctibridge run`` to log in to (AMI user
``ctibridge``, the secret read from ``--secret-file``). With ``--gws-port`` it also serves the GWS
simulator (agents ``agent5001``/``agent5002`` on DNs 5001/5002, password: the same file) and
plays every bundled scenario on both sides in a loop, so the bridge sees calls as it would in a
contact centre (docs/walkthrough-simulators.md). Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from ctibridge.sim.ami.server import AmiSimulator
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import bundled_scenarios

DNS = ("5001", "5002")  # the DNs the bundled scenarios use
HOST = "127.0.0.1"


async def _play_forever(gws: GwsSimulator, ami: AmiSimulator, speed: float) -> None:
    runner = ScenarioRunner(gws, ami, speed=speed)
    while True:
        for scenario in bundled_scenarios():
            print(f"scenario: {scenario.name}: {scenario.summary}", flush=True)
            await runner.play(scenario)


async def _serve(args: argparse.Namespace, secret: str) -> None:
    ami = AmiSimulator(agent_dns=frozenset(DNS), secret=secret)
    port = await ami.start(HOST, args.port)
    print(f"AMI simulator on {HOST}:{port} (user {ami.username})", flush=True)
    gws = player = None
    if args.gws_port is not None:
        gws = GwsSimulator([SimAgent(f"agent{dn}", secret, dn) for dn in DNS])
        url = await gws.start(HOST, args.gws_port)
        for dn in DNS:
            gws.set_agent_state(dn, "Ready")
        print(f"GWS simulator on {url} (agents {', '.join(f'agent{dn}/{dn}' for dn in DNS)})", flush=True)
        player = asyncio.create_task(_play_forever(gws, ami, args.speed))
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if player is not None:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
        if gws is not None:
            await gws.stop()
        await ami.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctibridge.sim.ami",
                                     description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--port", type=int, default=5038, help="AMI port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--secret-file", type=Path, required=True,
                        help="file holding the AMI secret (and the simulated GWS agents' password)")
    parser.add_argument("--gws-port", type=int, default=None,
                        help="also serve the GWS simulator on this port and play the scenarios")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario speed factor")
    args = parser.parse_args(argv)
    try:
        secret = args.secret_file.read_text(encoding="utf-8").strip()
    except OSError as err:
        print(f"python -m ctibridge.sim.ami: {args.secret_file}: {err.strerror}", file=sys.stderr)
        return 2
    if not secret:
        print(f"python -m ctibridge.sim.ami: {args.secret_file} is empty", file=sys.stderr)
        return 2
    asyncio.run(_serve(args, secret))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
