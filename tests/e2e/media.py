"""Two-way audio, measured at both ends: the RTP counters of the stand-in's leg toward the gateway
(PJSIP's stream statistics) and the browser's ``getStats`` bytes as the widget shows them."""

from __future__ import annotations

import asyncio

from playwright.async_api import Locator

from .conftest import Desk, Scene

WITHIN_S = 10.0


async def _bytes(media: Locator) -> tuple[int, int]:
    received = await media.get_attribute("data-in-bytes")
    sent = await media.get_attribute("data-out-bytes")
    return int(received or 0), int(sent or 0)


async def audio_flows(scene: Scene, desk: Desk, uuid: str) -> None:
    """Packets and bytes rise on both sides within ``WITHIN_S`` (a loaded machine is slow)."""
    media = desk.card(uuid).locator(".media")
    first_in, first_out = await _bytes(media)
    first = await scene.lab.rtp(uuid)
    async with asyncio.timeout(WITHIN_S):
        while True:
            await asyncio.sleep(0.5)
            stats = await scene.lab.rtp(uuid)
            now_in, now_out = await _bytes(media)
            if (stats["rx_packets"] > first["rx_packets"] and stats["tx_packets"] > first["tx_packets"]
                    and now_in > first_in and now_out > first_out):
                return
