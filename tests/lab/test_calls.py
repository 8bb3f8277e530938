"""The SIP Server stand-in against the real Asterisk 22 gateway: calls routed with their CallUUID,
answered by lab phones registered... (static contacts), audio both ways, GWS reporting what SIP did."""

from __future__ import annotations

import pytest

from ctibridge.sim.sipserver.lab import GenesysLab

pytestmark = pytest.mark.asterisk


async def test_a_customer_call_rings_the_dn_and_talks_both_ways(lab: GenesysLab) -> None:
    uuid = await lab.call("5003")
    call = await lab.sip.wait_state(uuid, "established")
    assert lab.gws.calls[uuid].state == "Established" and lab.gws.calls[uuid].dn == "5003"
    assert lab.sip.phone_calls and list(lab.sip.phone_calls.values()) == [uuid]  # the header arrived
    import asyncio
    await asyncio.sleep(1.5)
    stats = await lab.rtp(uuid)
    phone = await lab.sip.phone_rtp(uuid)
    print(stats, phone)
    assert stats["rx_packets"] > 20 and stats["tx_packets"] > 20 and stats["rx_level"] > 0
    assert phone["rx_packets"] > 20 and phone["rx_level"] > 0
    await lab.sip.customer_hangup(uuid)
    await lab.sip.wait_state(uuid, "released")
    assert call.outcome == "customer_hangup" and uuid not in lab.gws.calls
