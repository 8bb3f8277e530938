"""A customer call to a desk, answered in its browser phone, in sync on both sides."""

from __future__ import annotations

from playwright.async_api import expect

from .conftest import Desk, Scene


async def answered_call(scene: Scene, desk: Desk) -> str:
    """The CallUUID (= the GWS call id) of a new customer call answered in ``desk``'s widget."""
    uuid = await scene.lab.call(desk.dn)
    card = desk.card(uuid)
    await card.get_by_role("button", name="Answer").click()
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card).to_have_attribute("data-sync", "ok")
    await expect(desk.interaction(uuid)).to_have_attribute("data-state", "Established")
    return uuid
