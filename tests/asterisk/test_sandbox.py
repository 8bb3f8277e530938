"""The generated lab configuration in the real Asterisk 22, driven by sipp and a raw AMI socket."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from fixtures_asterisk import LabAsterisk
from raw_ami import Message, RawAmi

from ctibridge.sim.sipp import Sipp

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def ami(asterisk: LabAsterisk) -> AsyncIterator[RawAmi]:
    client = await RawAmi.login(asterisk.ami_host, asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
    yield client
    await client.close()


def chan_vars(event: Message, key: str = "ChanVariable") -> dict[str, str]:
    values = event.get(key, [])
    return dict(v.split("=", 1) for v in ([values] if isinstance(values, str) else values))


async def test_lab_configuration_loads_without_errors(asterisk: LabAsterisk) -> None:
    cli = asterisk.sandbox.cli
    endpoints = cli("pjsip show endpoints")
    for name in ("5001", "5002", "5003", "5004", "genesys"):
        assert re.search(rf"Endpoint:\s+{name}\s", endpoints), endpoints
    assert "sip:5003@127.0.0.3:5062" in endpoints
    assert "'moh' =>" in cli("dialplan show ctibridge-hold")
    assert "'park' =>" in cli("dialplan show ctibridge-hold")
    assert "Class: ctibridge" in cli("moh show classes")
    assert "/ws => Asterisk HTTP WebSocket" in cli("http show status")
    features = cli("features show")
    assert re.search(r"Attended Transfer\s+\*2", features), features
    assert re.search(r"Blind Transfer\s+#\s+\n", features), features
    errors = [line for line in asterisk.sandbox.log_text().splitlines() if "ERROR[" in line]
    assert errors == []


async def test_genesys_call_answered_by_phone_carries_call_uuid_on_both_legs(
    asterisk: LabAsterisk, sipp: Sipp, ami: RawAmi
) -> None:
    phone = await sipp.phone_answer("5003")
    genesys = await sipp.genesys_call("5003", "G2BL4CALLUUID0001", pause_ms=1500)

    assert (await genesys.wait()).ok
    answered = await phone.wait()
    assert answered.ok, answered.errors
    assert "X-Genesys-CallUUID: G2BL4CALLUUID0001" in answered.trace  # the pre-dial handler's header
    entered = [e for e in ami.events if e.get("Event") == "BridgeEnter"]
    assert {str(e["Channel"]).rsplit("-", 1)[0] for e in entered} == {"PJSIP/genesys", "PJSIP/5003"}
    for event in entered:
        assert chan_vars(event)["CALLUUID"] == "G2BL4CALLUUID0001"
        assert chan_vars(event)["SIPCALLID"].endswith("@127.0.0.2")
    dial = await ami.wait_event(Event="DialBegin")
    assert chan_vars(dial, "DestChanVariable")["CALLUUID"] == "G2BL4CALLUUID0001"
