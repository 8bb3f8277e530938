"""The demo's Genesys + Asterisk side: the Genesys lab around the real Asterisk 22 sandbox, or the
AMI simulator replaying scenarios (a simulation, for machines without the sandbox)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctibridge.lab.ports import lab_endpoints, taken
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import Scenario
from ctibridge.sim.sipserver.lab import GenesysLab, genesys_lab, lab_settings

HOST = "127.0.0.1"
SIM_DNS = ("5001", "5002")
BROWSER_DNS = ("5001", "5002")  # WebRTC endpoints; 5003/5004 are the lab's plain-RTP desk phones


class PortsTaken(RuntimeError):
    """The lab's fixed addresses are held by something else (another demo?)."""


@dataclass
class DemoSide:
    description: str
    gws: GwsSimulator  # started; its agents are the bridge's
    agent_dns: tuple[str, ...]  # the DNs an agent uses in the browser
    ami_port: int
    ami_username: str
    ami_secret: str
    play: Callable[[], Coroutine[Any, Any, None]]  # keeps calls flowing until cancelled
    sip: dict[str, Any] | None = None  # the bridge's [auth.sip]: phones register on a real Asterisk
    simulated: bool = False
    notes: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def simulated_side(scenarios: list[Scenario], speed: float) -> AsyncIterator[DemoSide]:
    ami = AmiSimulator(agent_dns=frozenset(SIM_DNS), secret=secrets.token_hex(8))
    port = await ami.start(HOST)
    gws = GwsSimulator([SimAgent(f"agent{dn}", secrets.token_hex(8), dn) for dn in SIM_DNS])
    await gws.start(HOST)

    async def play() -> None:
        runner = ScenarioRunner(gws, ami, speed=speed)
        while True:
            for scenario in scenarios:
                print(f"scenario: {scenario.name}: {scenario.summary}", flush=True)
                await runner.play(scenario)

    try:
        yield DemoSide(
            f"SIMULATION: AMI simulator on {HOST}:{port} replaying scenarios, no Asterisk", gws, SIM_DNS,
            port, ami.username, ami.secret, play, simulated=True,
            notes=["This is a simulation: the browser phone cannot register (there is no Asterisk);",
                   "the widget shows the scenarios' calls and its buttons act on the simulated calls."])
    finally:
        await gws.stop()
        await ami.stop()


@contextlib.asynccontextmanager
async def genesys_side(workdir: Path, talk_s: tuple[float, float],
                       every_s: tuple[float, float]) -> AsyncIterator[DemoSide]:
    """The Genesys lab (SIP Server stand-in + GWS simulator) and the Asterisk 22 sandbox; customers
    call the browser DNs every ``every_s`` seconds and talk for ``talk_s`` seconds."""
    settings = lab_settings()
    busy = taken(lab_endpoints(settings))
    if busy:
        raise PortsTaken("; ".join(busy))
    async with genesys_lab(workdir, talk_s=talk_s) as lab:
        yield lab_side(lab, every_s)


def lab_side(lab: GenesysLab, every_s: tuple[float, float] = (3.0, 6.0)) -> DemoSide:
    """The demo's view of a running Genesys lab: its GWS simulator, the sandbox's AMI, the SIP
    credentials the bridge hands to browser phones, and customer calls to the browser DNs."""
    profile = lab.settings

    async def play() -> None:
        await lab.play(BROWSER_DNS, every_s=every_s)

    return DemoSide(
        f"Asterisk 22 sandbox (SIP {profile.bind_address}:{profile.sip_port}, AMI {profile.ami_port}), "
        "SIP Server stand-in and GWS simulator",
        lab.gws, BROWSER_DNS, profile.ami_port, profile.ami_user, profile.ami_secret.get_secret_value(), play,
        sip={"webrtc_secret": profile.webrtc_secret.get_secret_value(),
             "ws_servers": [f"ws://{HOST}:{profile.http_port}/ws"]})
