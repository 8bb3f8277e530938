"""The SIP Server stand-in against the real Asterisk 22 gateway: calls routed with their CallUUID,
answered by the lab phones, audio both ways, GWS reporting what SIP did, demo traffic."""

from __future__ import annotations

import asyncio

import pytest
from web.webharness import until

from ctibridge.sim.sipserver.lab import GenesysLab

pytestmark = pytest.mark.asterisk


async def test_a_customer_call_rings_the_dn_and_talks_both_ways(lab: GenesysLab) -> None:
    uuid = await lab.call("5003")
    call = await lab.sip.wait_state(uuid, "established")
    assert lab.gws.calls[uuid].state == "Established" and lab.gws.calls[uuid].dn == "5003"
    assert lab.sip.phone_calls and list(lab.sip.phone_calls.values()) == [uuid]  # the header arrived
    await asyncio.sleep(1.5)
    stats = await lab.rtp(uuid)
    phone = await lab.sip.phone_rtp(uuid)
    assert stats["rx_packets"] > 20 and stats["tx_packets"] > 20 and stats["rx_level"] > 0
    assert phone["rx_packets"] > 20 and phone["rx_level"] > 0
    await lab.sip.customer_hangup(uuid)
    await lab.sip.wait_state(uuid, "released")
    assert call.outcome == "customer_hangup" and uuid not in lab.gws.calls


async def test_demo_traffic_places_calls_that_end_after_their_talk_time(lab: GenesysLab) -> None:
    lab.sip.talk_s = (1.0, 1.5)
    traffic = asyncio.create_task(lab.play(["5003", "5004"], every_s=(0.2, 0.4)))
    try:
        await until(lambda: sum(c.outcome == "customer_hangup" for c in lab.sip.calls.values()) >= 2,
                    within=15.0, what="two calls talked and hung up")
    finally:
        traffic.cancel()
    assert {c.dn for c in lab.sip.calls.values()} == {"5003", "5004"}
    assert len({lab.sip.call_engines[c.uuid] for c in lab.sip.calls.values()}) == 2  # the trunk pool


async def test_busy_and_ring_no_answer_are_reported(lab: GenesysLab) -> None:
    lab.sip.phone_modes["5004"] = "busy"
    busy = await lab.call("5004")
    assert (await lab.sip.wait_state(busy, "released")).outcome == "busy"
    assert busy not in lab.gws.calls

    lab.sip.phone_modes["5003"] = "no_answer"
    rona = await lab.call("5003")
    await lab.sip.wait_state(rona, "ringing")
    assert lab.gws.calls[rona].state == "Ringing"
    call = await lab.sip.wait_state(rona, "released", within_s=lab.sip.ring_timeout_s + 5)
    assert call.outcome == "rona" and rona not in lab.gws.calls  # taken back and Released
