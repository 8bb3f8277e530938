"""Transfers started on the desktop (WWE): the SIP Server stand-in moves the customer to another
DN, whose browser phone rings; the first DN's call ends."""

from __future__ import annotations

from playwright.async_api import expect

from .ami_view import channels, no_channels_of
from .answered import answered_call
from .conftest import Desks, Scene

DN, TARGET = "5001", "5002"  # both agents in the browser


async def test_wwe_single_step_transfer_rings_the_other_browser_and_ends_the_first_call(
        scene: Scene, desks: Desks) -> None:
    desk = await desks.open(DN)
    target = await desks.open(TARGET)
    uuid = await answered_call(scene, desk)

    await desk.wwe(uuid, "SingleStepTransfer", destination=TARGET)
    await expect(desk.card(uuid)).to_have_count(0)
    await expect(desk.page.locator("li.interaction")).to_have_count(0)  # released at the first DN
    card = target.card(uuid)  # the same CallUUID rings the target's browser phone
    await expect(card).to_have_attribute("data-state", "ringing")
    await card.get_by_role("button", name="Answer").click()
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card).to_have_attribute("data-sync", "ok")
    await expect(target.interaction(uuid)).to_have_attribute("data-state", "Established")
    assert scene.lab.gws.calls[uuid].dn == TARGET and scene.lab.state(uuid).dn == TARGET
    await no_channels_of(scene.asterisk, DN)
    up = await channels(scene.asterisk)
    assert any(c.name.startswith(f"PJSIP/{TARGET}-") for c in up) and len({c.bridge for c in up}) == 1
