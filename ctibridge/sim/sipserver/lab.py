"""The Genesys lab around the Asterisk gateway: GWS simulator + SIP Server stand-in (registrar,
B2BUA, customers, lab phones), one call model.

    async with genesys_lab(workdir) as lab:          # also starts the Asterisk sandbox
        uuid = await lab.call("5003")                 # a customer calls DN 5003
        lab.state(uuid).state                         # ringing, established, held, released
        await lab.rtp(uuid)                           # RTP packets each way, received level
        await lab.play(["5003", "5004"])              # demo traffic until cancelled
        lab.gws.base_url                              # where the bridge's GWS sessions go

Pass ``asterisk=`` a running sandbox's settings (tests) to use it instead of starting one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctibridge.gateway.generator import render
from ctibridge.gateway.sandbox import AsteriskSandbox, default_root
from ctibridge.gateway.settings import LAB_PHONE_PORT, GatewaySettings
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.sipserver.registrar import Registrar
from ctibridge.sim.sipserver.switch import LabCall, SipServer


@dataclass
class GenesysLab:
    settings: GatewaySettings
    gws: GwsSimulator
    sip: SipServer
    registrar: Registrar
    sandbox: AsteriskSandbox | None  # None when the caller runs Asterisk

    async def call(self, dn: str, **options: Any) -> str:
        """A customer call to ``dn``; returns its CallUUID (``SipServer.call`` options)."""
        return await self.sip.call(dn, **options)

    def state(self, uuid: str) -> LabCall:
        return self.sip.state(uuid)

    async def rtp(self, uuid: str) -> dict[str, Any]:
        return await self.sip.rtp(uuid)

    async def play(self, dns: Sequence[str], every_s: tuple[float, float] = (3.0, 6.0)) -> None:
        """Demo traffic, until cancelled: every few seconds a customer calls one of ``dns`` that
        has no call in progress; each call talks for the lab's ``talk_s`` and then hangs up."""
        for n in itertools.count():
            await asyncio.sleep(random.uniform(*every_s))
            busy = {c.dn for c in self.sip.calls.values() if c.state != "released"}
            free = [dn for dn in dns if dn not in busy]
            if free:
                await self.call(free[n % len(free)])


def lab_settings(dns: str = "5001-5004", phone_dns: str = "5003-5004") -> GatewaySettings:
    return GatewaySettings.model_validate({
        "profile": "lab", "dns": dns, "phone_dns": phone_dns, "genesys_host": "127.0.0.2",
        "webrtc_secret": secrets.token_hex(12), "ami_secret": secrets.token_hex(12)})


def lab_agents(settings: GatewaySettings) -> list[SimAgent]:
    """One GWS agent per DN: ``agent<DN>`` with a fresh password."""
    return [SimAgent(f"agent{dn}", secrets.token_hex(8), dn) for dn in settings.dns]


@contextlib.asynccontextmanager
async def genesys_lab(workdir: Path, *, asterisk: GatewaySettings | None = None,
                      gws: GwsSimulator | None = None, registrar_expires_s: int = 300,
                      talk_s: tuple[float, float] | None = (30.0, 90.0),
                      ring_timeout_s: float = 20.0, trunk_engines: int = 4) -> AsyncIterator[GenesysLab]:
    """Start (in order) the registrar, the Asterisk sandbox unless ``asterisk`` names a running
    one, the GWS simulator unless given, and the SIP Server stand-in; stop them in reverse."""
    settings = asterisk or lab_settings()
    async with contextlib.AsyncExitStack() as stack:
        registrar = Registrar(workdir / "registrar", settings.genesys_host,
                              settings.registrar_port or settings.genesys_port, registrar_expires_s)
        await registrar.start()
        stack.push_async_callback(registrar.stop)
        sandbox = None
        if asterisk is None:
            sandbox = AsteriskSandbox(default_root(), workdir / "asterisk")
            await sandbox.start(render(settings))
            stack.push_async_callback(sandbox.stop)
        if gws is None:
            gws = GwsSimulator(lab_agents(settings))
            await gws.start()
            stack.push_async_callback(gws.stop)
        sip = SipServer(gws, workdir, trunk=(settings.genesys_host, settings.genesys_port),
                        gateway=f"{settings.bind_address}:{settings.sip_port}",
                        phones={dn: (settings.phone_address(dn), LAB_PHONE_PORT)
                                for dn in settings.phone_dns},
                        phone_passwords={dn: settings.password(dn) for dn in settings.phone_dns},
                        ring_timeout_s=ring_timeout_s, talk_s=talk_s, trunk_engines=trunk_engines)
        await sip.start()
        stack.push_async_callback(sip.stop)
        yield GenesysLab(settings, gws, sip, registrar, sandbox)
