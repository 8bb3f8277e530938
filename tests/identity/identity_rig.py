"""How a widget sees its admission or refusal (the service itself: ``tests/fixtures_identity.py``)."""

from __future__ import annotations

from typing import Any

import aiohttp
from service_rig import WITHIN


async def refusal(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, str]:
    """The close code and reason the widget gets (no frame may come before it)."""
    msg = await ws.receive(timeout=WITHIN)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    return int(msg.data), str(msg.extra)


async def admitted(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The frames up to and with the snapshot."""
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != "snapshot":
        msg = await ws.receive(timeout=WITHIN)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg, ws.close_code)
        frames.append(msg.json())
    return frames
