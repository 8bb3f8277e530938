"""A widget client that holds and retrieves its call: used by the actions benchmarks (simulator and
real Asterisk alike)."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from bench.latency import ORIGIN, SECRET
from ctibridge.identity.hmac_token import mint

Result = tuple[str, float, float, str]  # action, round trip (ms), executor latency_ms, outcome


async def hold_and_retrieve(url: str, dn: str, rounds: int, results: list[Result]) -> None:
    """Hold, then retrieve, ``rounds`` times on ``dn``'s call, one action at a time."""
    token = mint(SECRET.encode(), f"agent{dn}", [dn], 3600, time.time())
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers={"Origin": ORIGIN}) as ws:
        await ws.send_str(json.dumps({"type": "hello", "token": token, "dn": dn}))
        call: dict[str, Any] = {}
        pending: dict[str, tuple[str, float]] = {}
        done = 0
        action = "hold"
        async for msg in ws:
            data = json.loads(msg.data)
            if data.get("type") == "snapshot" and data["calls"]:
                call = data["calls"][0]
            elif data.get("type") == "delta":
                call = data["call"]
            elif data.get("type") == "action_result":
                name, sent = pending.pop(data["id"])
                results.append((name, (time.perf_counter() - sent) * 1000, data["latency_ms"],
                                data["outcome"]))
                done += 1
                if done >= 2 * rounds:
                    return
                action = "retrieve" if name == "hold" else "hold"
            if not pending and action in call.get("actions", ()):
                action_id = f"{dn}-{done}"
                pending[action_id] = (action, time.perf_counter())
                await ws.send_str(json.dumps({"type": "action", "id": action_id, "call_id": call["id"],
                                              "action": action}))
