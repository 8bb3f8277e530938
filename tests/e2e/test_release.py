"""The end of a call, from each side: the agent hangs up in the widget, the customer hangs up; and
a call the agent dials from the widget, shown once on the desktop."""

from __future__ import annotations

from playwright.async_api import expect

from .ami_view import channels, no_channels_of
from .answered import answered_call
from .conftest import Desks, Scene

DN = "5001"
NUMBER = "5550002000"


async def test_the_agent_hangs_up_in_the_widget_and_the_desktop_shows_it_released(
        scene: Scene, desks: Desks) -> None:
    desk = await desks.open(DN)
    uuid = await answered_call(scene, desk)
    await desk.card(uuid).get_by_role("button", name="Hang up").click()
    await expect(desk.card(uuid)).to_have_count(0)
    await expect(desk.page.locator("li.interaction")).to_have_count(0)
    call = await scene.lab.sip.wait_state(uuid, "released")
    assert call.outcome == "released_by_agent" and uuid not in scene.lab.gws.calls
    await no_channels_of(scene.asterisk, DN)


async def test_the_customer_hangs_up_and_both_sides_release(scene: Scene, desks: Desks) -> None:
    desk = await desks.open(DN)
    uuid = await answered_call(scene, desk)
    await scene.lab.sip.customer_hangup(uuid)
    await expect(desk.card(uuid)).to_have_count(0)
    await expect(desk.page.locator("li.interaction")).to_have_count(0)
    assert scene.lab.state(uuid).outcome == "customer_hangup" and uuid not in scene.lab.gws.calls
    await no_channels_of(scene.asterisk, DN)


async def test_a_call_dialled_in_the_widget_shows_once_on_the_desktop(
        scene: Scene, desks: Desks) -> None:
    desk = await desks.open(DN)
    await desk.widget.get_by_placeholder("Number").fill(NUMBER)
    await desk.widget.get_by_role("button", name="Call").click()
    card = desk.widget.locator("article[data-call-uuid]")
    await expect(card).to_have_count(1)
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card).to_have_attribute("data-sync", "ok")
    interaction = desk.page.locator("li.interaction")
    await expect(interaction).to_have_count(1)  # one card for the one call, not two
    await expect(interaction).to_have_attribute("data-state", "Established")
    uuid = await card.get_attribute("data-call-uuid")
    assert uuid and scene.lab.gws.calls[uuid].state == "Established"
    assert scene.lab.state(uuid).direction == "outbound" and scene.lab.state(uuid).party == NUMBER
    up = await channels(scene.asterisk)
    assert any(c.name.startswith(f"PJSIP/{DN}-") for c in up) and len({c.bridge for c in up}) == 1
    await card.get_by_role("button", name="Hang up").click()
    await expect(interaction).to_have_count(0)
    await no_channels_of(scene.asterisk, DN)
