"""The real Asterisk 22 sandbox as the demo's Asterisk side: sipp plays the Genesys SIP Server and
the agents' phones, and the GWS simulator reports what SIP Server would report about those calls.

``lab_gateway(workdir)`` starts the lab registrar (kamailio, ``sim.sipserver.registrar``) and
Asterisk (lab profile, DNs 5001-5004; 5003 and 5004 have sipp phones); ``GenesysMirror`` turns
the gateway's AMI events into GWS messages (the trunk's CALLUUID is the GWS call id, as with real
GWS); ``play_lab_flows`` loops over inbound, hold, abandoned and outbound calls made by sipp.
(``sim.sipserver.lab`` is the lab that acts on GWS operations; the demo moves to it later.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path

from ctibridge.core.ami_parse import RawMessage, parse_ami
from ctibridge.core.dialplan import CALL_UUID_VAR
from ctibridge.core.events import ChannelHangup, DialUpdate, HoldUpdate
from ctibridge.gateway.generator import render
from ctibridge.gateway.sandbox import AsteriskSandbox, default_root, is_built
from ctibridge.gateway.settings import GatewaySettings
from ctibridge.sim.gws import GwsSimulator
from ctibridge.sim.gws.calls import new_call_uuid
from ctibridge.sim.sipp import Sipp, SippCall
from ctibridge.sim.sipserver.registrar import Registrar
from ctibridge.sim.sipserver.registrar import available as registrar_available

log = logging.getLogger("ctibridge.sim.lab_gateway")

PHONE_DNS = ("5003", "5004")  # DNs with a sipp phone in the lab profile
TRUNK = "genesys"


def available() -> bool:
    """The sandbox is built, sipp is installed, and this process may chroot (root)."""
    return (is_built(default_root()) and shutil.which("sipp") is not None and registrar_available()
            and os.geteuid() == 0)


@dataclass
class LabGateway:
    sandbox: AsteriskSandbox
    settings: GatewaySettings
    sipp: Sipp

    @property
    def ami_secret(self) -> str:
        return self.settings.ami_secret.get_secret_value()


@contextlib.asynccontextmanager
async def lab_gateway(workdir: Path) -> AsyncIterator[LabGateway]:
    settings = GatewaySettings.model_validate(
        {
            "profile": "lab",
            "dns": "5001-5004",
            "phone_dns": list(PHONE_DNS),
            "genesys_host": "127.0.0.2",
            "webrtc_secret": secrets.token_hex(12),
            "ami_secret": secrets.token_hex(12),
        }
    )
    registrar = Registrar(workdir / "registrar", settings.genesys_host, settings.registrar_port)
    await registrar.start()  # before Asterisk: its first REGISTERs are answered
    sandbox = AsteriskSandbox(default_root(), workdir / "asterisk")
    try:
        await sandbox.start(render(settings))
    except BaseException:
        await registrar.stop()
        raise
    sipp = Sipp(
        workdir / "sipp",
        phones={dn: settings.phone_address(dn) for dn in settings.phone_dns},
        passwords={dn: settings.password(dn) for dn in settings.phone_dns},
    )
    try:
        yield LabGateway(sandbox, settings, sipp)
    finally:
        await sipp.close()
        await sandbox.stop()
        await registrar.stop()


@dataclass
class GenesysMirror:
    """SIP Server's view of the gateway's calls, published by the GWS simulator."""

    gws: GwsSimulator
    outbound_uuids: dict[str, str] = field(default_factory=dict)  # DN -> CallUUID its next dial gets
    _calls: dict[str, str] = field(default_factory=dict)  # Linkedid -> GWS call id

    def on_ami(self, raw: RawMessage, t: float) -> None:
        event = parse_ami(raw, t)
        if isinstance(event, DialUpdate) and event.caller is not None:
            self._dial(event)
        elif isinstance(event, HoldUpdate) and not event.music and event.channel.endpoint == TRUNK:
            self._set(event.channel.linkedid, "Held" if event.held else "Established")
        elif isinstance(event, ChannelHangup):
            call_id = self._calls.pop(event.channel.linkedid, None)
            if call_id is not None and call_id in self.gws.calls:
                self.gws.release(call_id)

    def _dial(self, ev: DialUpdate) -> None:
        assert ev.caller is not None
        linkedid = ev.dest.linkedid
        if ev.status == "":  # DialBegin
            if ev.caller.endpoint == TRUNK and ev.dest.endpoint in self.gws.agent_states:
                uuid = ev.caller.vars.get(CALL_UUID_VAR, "") or new_call_uuid()
                self._calls[linkedid] = self.gws.call_ringing(
                    ev.dest.endpoint, uuid, ani=ev.caller.caller_num
                )
            elif ev.dest.endpoint == TRUNK and ev.caller.endpoint in self.gws.agent_states:
                dn = ev.caller.endpoint
                uuid = self.outbound_uuids.pop(dn, "") or new_call_uuid()
                self._calls[linkedid] = self.gws.call_dialing(dn, ev.dest.exten or ev.dest.caller_num, uuid)
        elif ev.status == "ANSWER":
            self._set(linkedid, "Established")

    def _set(self, linkedid: str, state: str) -> None:
        call_id = self._calls.get(linkedid)
        if call_id is not None and call_id in self.gws.calls:
            self.gws.set_state(call_id, state)


async def play_lab_flows(gateway: LabGateway, mirror: GenesysMirror) -> None:
    """Forever: on each sipp phone DN in turn, an answered call, a held call, an abandoned call and
    an outbound call, each waited for (sipp exits when its call is over)."""
    sipp = gateway.sipp
    for n in itertools.count():
        dn = PHONE_DNS[n % len(PHONE_DNS)]
        await _run(sipp.phone_answer(dn, pause_ms=1500), sipp.genesys_call(dn, new_call_uuid(), "talk", 6000))
        await _run(sipp.phone_answer(dn, pause_ms=1000), sipp.genesys_call(dn, new_call_uuid(), "hold", 2500))
        await _run(sipp.phone_ring(dn), sipp.genesys_call(dn, new_call_uuid(), "cancel", 3000))
        uuid = new_call_uuid()
        mirror.outbound_uuids[dn] = uuid
        await _run(sipp.genesys_answer(uuid), sipp.phone_call(dn, "5550002000", pause_ms=5000))


async def _run(*starting: Awaitable[SippCall]) -> None:
    """Start the sipp processes in order (a UAS before its caller) and wait for all to finish."""
    calls = [await start for start in starting]
    results = await asyncio.gather(*(call.wait(60) for call in calls))
    for call, result in zip(calls, results, strict=True):
        if not result.ok:
            log.warning("sipp %s ended rc=%s: %s", call.name, result.rc, result.errors[-300:])
