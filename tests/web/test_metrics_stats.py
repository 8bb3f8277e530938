"""The hub's and the store's own counters reach /metrics (they were kept, but nobody read them)."""

from __future__ import annotations

import aiohttp
import pytest
from webharness import Bridge, BridgeFactory, token


async def test_hub_and_store_counters_are_scraped(bridge_factory: BridgeFactory, closed_port: int) -> None:
    bridge: Bridge = await bridge_factory(ami_port=closed_port)
    widget = await bridge.widget(token("agent1", "5001"), "5001")
    await widget.next("snapshot")
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await bridge.widget(token("agent1", "5001"), "5001", origin="http://evil.test")
    async with bridge.http.get(bridge.url("/metrics")) as resp:
        text = await resp.text()
    assert 'ctibridge_hub_events_total{event="connections"} 1.0' in text
    assert 'ctibridge_hub_events_total{event="origin_refused"} 1.0' in text
    assert 'ctibridge_store_events_total{event="redis_failures"} 0.0' in text
    assert "fallback_active" not in text  # a flag, not a counter
