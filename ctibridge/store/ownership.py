"""The owner lease loop: exactly one instance holds the AMI/GWS connections at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ctibridge.store.port import StateStore


async def ownership_changes(store: StateStore, instance_id: str, *, interval: float) -> AsyncIterator[bool]:
    """Yield True when ``instance_id`` becomes the owner and False when it stops being one.

    Renews the lease every ``interval`` seconds (keep it well under the store's owner TTL, e.g. a
    third). The lease is released when the iteration ends (cancel or ``aclose``), so a successor
    takes over at once instead of after the TTL.
    """
    owner = False
    try:
        while True:
            held = await (store.renew(instance_id) if owner else store.acquire_ownership(instance_id))
            if held != owner:
                owner = held
                yield owner
            await asyncio.sleep(interval)
    finally:
        if owner:
            await store.release(instance_id)
