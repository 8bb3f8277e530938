"""Genesys for the load run, in a process of its own so the harness does not steal the bridge's
clock: the GWS simulator, made to report the calls sipp places through Asterisk by
``GenesysMirror`` over its own AMI login (the same events the bridge reads).

    python bench/load_genesys.py AGENTS_JSON AMI_SECRET_FILE EVENTS_FILE

``AGENTS_JSON``: ``[{"username", "password", "dn"}, ...]``. Prints ``ready <GWS base URL>`` once
logged in to AMI; each agent goes Ready once the bridge has subscribed for it. Every second it
appends ``<monotonic time> <AMI events read so far>`` to ``EVENTS_FILE`` (CLOCK_MONOTONIC is the
machine's, so the parent can window it). Runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.core.ami_parse import RawMessage
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.lab_gateway import GenesysMirror


async def serve(agents: list[SimAgent], ami_secret: str, events_file: Path) -> None:
    gws = GwsSimulator(agents)
    mirror = GenesysMirror(gws)
    read = 0

    def on_ami(raw: RawMessage, t: float) -> None:
        nonlocal read
        read += 1
        mirror.on_ami(raw, t)

    ami = AmiClient(AmiSettings(port=5038, username="ctibridge",
                                secret=SecretStr(ami_secret),
                                ping_timeout=10.0),  # a stand-in, not the bridge under test
                    on_message=on_ami, on_link=lambda *_: None)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    url = await gws.start("127.0.0.1")
    await ami.start(timeout_s=20)
    print(f"ready {url}", flush=True)
    waiting = {a.dn for a in agents}
    with events_file.open("a", encoding="ascii") as events:
        while not stopping.is_set():
            for dn in [dn for dn in waiting if gws.subscribed(dn)]:
                gws.set_agent_state(dn, "Ready")
                waiting.discard(dn)
            events.write(f"{time.monotonic():.3f} {read}\n")
            events.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
    await ami.close()
    await gws.stop()


def main(agents_file: Path, ami_secret_file: Path, events_file: Path) -> None:
    agents = [SimAgent(a["username"], a["password"], a["dn"]) for a in json.loads(agents_file.read_text())]
    asyncio.run(serve(agents, ami_secret_file.read_text(encoding="utf-8"), events_file))


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:4]))
