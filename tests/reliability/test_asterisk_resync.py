"""On the real Asterisk 22: after the AMI connection is cut mid-call, the bridge's core state equals
what a fresh correlator computes from a resync alone, whether the call survived the outage or
ended during it (then the core reported the call gone: a widget learns it ended).

The "bridge" is the service's AMI path (``AmiClient`` -> ``parse_ami`` -> ``Correlator``, as the
pipeline wires it), the calls are sipp as Genesys and as the agent's phone (tests/fixtures_asterisk.py).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eventually import eventually
from fixtures_asterisk import LabAsterisk
from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.ami.operations import ChannelOperations
from ctibridge.core.ami_parse import RawMessage, parse_ami
from ctibridge.core.correlator import Correlator, CorrelatorSettings
from ctibridge.core.deltas import Delta
from ctibridge.core.events import AmiLink
from ctibridge.sim.sipp import Sipp

pytestmark = pytest.mark.asterisk

WITHIN = 10.0
AGENT = "5003"  # a lab DN with a sipp phone
SETTINGS = CorrelatorSettings(dns=frozenset({"5001", "5002", "5003", "5004"}))


@dataclass
class Core:
    """A correlator fed by its own AMI session, as the service's pipeline feeds it."""

    gateway: LabAsterisk
    backoff: float = 0.1
    core: Correlator = field(default_factory=lambda: Correlator(SETTINGS))
    deltas: list[Delta] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = AmiClient(
            AmiSettings(host=self.gateway.ami_host, port=self.gateway.ami_port,
                        username=self.gateway.ami_user, secret=SecretStr(self.gateway.ami_secret),
                        backoff_initial=self.backoff, backoff_max=self.backoff),
            self._message, self._link)

    def _message(self, raw: RawMessage, t: float) -> None:
        event = parse_ami(raw, t)
        if event is not None:
            self.deltas += self.core.feed(event)

    def _link(self, status: str, t: float, uptime: float | None = None) -> None:
        self.links.append(status)
        self.deltas += self.core.feed(AmiLink(t, status, uptime))

    def view(self) -> list[tuple[Any, ...]]:
        return sorted((c["dn"], c["call_uuid"], c["state"], c["sync"]["status"],
                       tuple(sorted(ch["name"] for ch in c["asterisk"]["channels"])) if c["asterisk"] else ())
                      for c in self.core.calls())


@pytest.fixture
async def cores(asterisk: LabAsterisk) -> AsyncIterator[list[Core]]:
    made: list[Core] = []
    yield made
    for core in made:
        await core.client.close()


async def fresh_resync(gateway: LabAsterisk, cores: list[Core]) -> Core:
    """A correlator that knows nothing but one login and its channel listing."""
    fresh = Core(gateway)
    cores.append(fresh)
    await fresh.client.start(timeout_s=WITHIN)
    await eventually(lambda: "resync_end" in fresh.links, within=WITHIN, what="fresh resync")
    return fresh


def uuid() -> str:
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(32))


async def test_cut_mid_call_then_state_equals_a_fresh_resync(asterisk: LabAsterisk, sipp: Sipp,
                                                             cores: list[Core]) -> None:
    bridge = Core(asterisk)
    cores.append(bridge)
    await bridge.client.start(timeout_s=WITHIN)
    phone = await sipp.phone_answer(AGENT)
    call_uuid = uuid()
    genesys = await sipp.genesys_call(AGENT, call_uuid, flow="until_bye")
    await eventually(lambda: [c for c in bridge.core.calls() if c["state"] == "established"],
                     within=WITHIN, what="the call established in the core")

    bridge.client.drop_connection("test: AMI connection cut mid-call")
    await eventually(lambda: bridge.links.count("resync_end") == 2, within=WITHIN, what="resync")
    fresh = await fresh_resync(asterisk, cores)
    assert bridge.view() == fresh.view()
    assert [(dn, u, state) for dn, u, state, *_ in bridge.view()] == [(AGENT, call_uuid, "established")]

    # the call survived; now hang it up and check both agree again
    ops = ChannelOperations(fresh.client)
    await ops.hangup(next(c for c in bridge.core.calls())["asterisk"]["channels"][0]["name"])
    assert (await genesys.wait(WITHIN)).ok and (await phone.wait(WITHIN)).ok
    await eventually(lambda: not bridge.core.calls() and not fresh.core.calls(), within=WITHIN, what="gone")


async def test_call_ending_while_disconnected_is_reported_gone(asterisk: LabAsterisk, sipp: Sipp,
                                                               cores: list[Core]) -> None:
    bridge = Core(asterisk, backoff=3.0)  # a long enough outage for the call to end inside it
    cores.append(bridge)
    await bridge.client.start(timeout_s=WITHIN)
    phone = await sipp.phone_answer(AGENT)
    genesys = await sipp.genesys_call(AGENT, uuid(), flow="until_bye")
    call = (await eventually(lambda: [c for c in bridge.core.calls() if c["state"] == "established"],
                             within=WITHIN, what="the call established in the core"))[0]

    cut_at = time.monotonic()
    bridge.client.drop_connection("test: AMI connection cut mid-call")
    other = await fresh_resync(asterisk, cores)  # a second session hangs the call up meanwhile
    await ChannelOperations(other.client).hangup(call["asterisk"]["channels"][0]["name"])
    assert (await genesys.wait(WITHIN)).ok and (await phone.wait(WITHIN)).ok
    assert "resync_end" not in bridge.links[bridge.links.index("lost"):], "hung up after the reconnect"
    assert time.monotonic() - cut_at < 3.0

    await eventually(lambda: bridge.links.count("resync_end") == 2, within=WITHIN, what="resync")
    fresh = await fresh_resync(asterisk, cores)
    assert bridge.view() == fresh.view() == []
    ends = [d for d in bridge.deltas if d.call["id"] == call["id"]]
    assert ends[-1].op == "removed" or ends[-1].call["state"] == "released", ends[-1]
