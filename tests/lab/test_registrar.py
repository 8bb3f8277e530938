"""The stand-in's registrar (kamailio) keeps the gateway's DN registrations alive, and the
bridge's readiness (``/readyz``, with the DNs' detail behind a token) says when it does not."""

from __future__ import annotations

from typing import Any

import pytest
from web.webharness import Bridge, bearer, token, until, until_answer

from ctibridge.sim.sipserver.lab import GenesysLab

pytestmark = pytest.mark.asterisk

DNS = ("5001", "5002", "5003", "5004")


async def health(bridge: Bridge) -> tuple[int, dict[str, Any]]:
    async with bridge.http.get(bridge.url("/readyz"), headers=bearer(token("operator", *DNS))) as resp:
        return resp.status, await resp.json()


async def test_registrations_are_refreshed_and_health_follows_the_registrar(lab: GenesysLab,
                                                                          bridge: Bridge) -> None:
    # Expires is capped at 20 s (tests/lab/conftest.py): Asterisk refreshes 10 s before it ends
    await until(lambda: all(lab.registrar.registers(dn) >= 2 for dn in DNS), within=30.0,
                what="a REGISTER and its refresh per DN")

    async def ok() -> bool:
        status, body = await health(bridge)
        states = body["ami"]["registrations"]
        return status == 200 and all(states.get(dn) == "Registered" for dn in DNS)
    await until_answer(ok, within=15.0, what="ready with every DN registered")

    # The SIP Server's registrar is gone: the next refresh (within 10 s) times out after 32 s
    # (SIP timer F), then Asterisk reports the DN not registered.
    await lab.registrar.stop()

    async def rejected() -> bool:
        status, body = await health(bridge)
        states = body["ami"]["registrations"]
        return status == 503 and body["status"] == "not_ready" \
            and any(states.get(dn) != "Registered" for dn in DNS) \
            and any(reason.startswith("registration ") for reason in body["reasons"])
    await until_answer(rejected, within=60.0, what="not ready once the registrar is gone")

