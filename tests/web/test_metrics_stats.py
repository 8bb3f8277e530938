"""The hub's and the store's own counters reach /metrics (they were kept, but nobody read them)."""

from __future__ import annotations

from webharness import Bridge, BridgeFactory, token


async def test_hub_and_store_counters_are_scraped(bridge_factory: BridgeFactory, closed_port: int) -> None:
    bridge: Bridge = await bridge_factory(ami_port=closed_port)
    widget = await bridge.widget(token("agent1", "5001"), "5001")
    await widget.next("snapshot")
    # the refused origin is upgraded too, then closed with 4403 (the widget can show why)
    refused = await bridge.widget(token("agent1", "5001"), "5001", origin="http://evil.test")
    assert await refused.closed_with() == 4403
    async with bridge.http.get(bridge.url("/metrics")) as resp:
        text = await resp.text()
    assert 'ctibridge_hub_events_total{event="connections"} 2.0' in text
    assert 'ctibridge_refused_from_widget_hub_total{reason="origin_not_allowed"} 1.0' in text
    assert 'ctibridge_store_events_total{event="redis_failures"} 0.0' in text
    assert "fallback_active" not in text  # a flag, not a counter
