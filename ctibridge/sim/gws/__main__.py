"""Standalone GWS simulator for the demo: ``python -m ctibridge.sim.gws --port 8090``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ctibridge.sim.gws.server import GwsSimulator, SimAgent


def _agent(spec: str) -> SimAgent:
    username, password, dn = spec.split(":")
    return SimAgent(username, password, dn)


async def _serve(sim: GwsSimulator, port: int) -> None:
    url = await sim.start("127.0.0.1", port)
    print(
        f"GWS simulator on {url} agents: {', '.join(f'{a.username}/{a.dn}' for a in sim.agents.values())}"
        f"\nJWT issuer {sim.issuer.issuer} audience {sim.issuer.audience} "
        f"(sign in: POST {url}/auth/v3/sign-in)",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctibridge.sim.gws", description=__doc__)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument(
        "--agent",
        action="append",
        type=_agent,
        metavar="USER:PASSWORD:DN",
        help="an agent login (repeatable); default agent1:secret:5001 and agent2:secret:5002",
    )
    args = parser.parse_args(argv)
    agents = args.agent or [SimAgent("agent1", "secret", "5001"), SimAgent("agent2", "secret", "5002")]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(GwsSimulator(agents), args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
