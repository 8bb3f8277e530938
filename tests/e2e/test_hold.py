"""A customer call answered in the browser, then Hold and Retrieve from the desktop (WWE): the SIP
Server stand-in re-INVITEs the gateway, Asterisk's channels stay bridged, the widget follows, and
both sides agree (sync ok) with audio flowing both ways."""

from __future__ import annotations

from playwright.async_api import expect

from .ami_view import channels
from .answered import answered_call
from .conftest import Desks, Scene
from .media import audio_flows

DN = "5001"


async def test_wwe_hold_then_retrieve_of_a_call_answered_in_the_browser(
        scene: Scene, desks: Desks) -> None:
    desk = await desks.open(DN)
    uuid = await answered_call(scene, desk)
    card = desk.card(uuid)
    await expect(card.locator(".media")).to_have_attribute("data-ice", "connected")
    await audio_flows(scene, desk, uuid)
    up = await channels(scene.asterisk)
    assert len(up) == 2 and len({c.bridge for c in up}) == 1 and up[0].bridge  # browser <-> trunk

    await desk.wwe(uuid, "Hold")
    await expect(card).to_have_attribute("data-state", "held")
    await expect(card).to_have_attribute("data-sync", "ok")
    await expect(desk.interaction(uuid)).to_have_attribute("data-state", "Held")
    assert scene.lab.gws.calls[uuid].state == "Held" and scene.lab.state(uuid).state == "held"
    assert scene.lab.sip.leg_media[scene.lab.state(uuid).leg] == "local_hold"  # sendonly, answered
    assert len(await channels(scene.asterisk)) == 2  # held, not hung up: both legs still there

    await desk.wwe(uuid, "Retrieve")
    await expect(card).to_have_attribute("data-state", "established")
    await expect(card).to_have_attribute("data-sync", "ok")
    await expect(desk.interaction(uuid)).to_have_attribute("data-state", "Established")
    assert scene.lab.gws.calls[uuid].state == "Established"
    assert scene.lab.sip.leg_media[scene.lab.state(uuid).leg] == "active"
    await audio_flows(scene, desk, uuid)


async def test_widget_hold_then_retrieve_reaches_genesys_and_the_desktop(scene: Scene, desks: Desks) -> None:
    desk = await desks.open(DN)
    uuid = await answered_call(scene, desk)
    card = desk.card(uuid)
    for button, widget_state, gws_state, media in (("Hold", "held", "Held", "local_hold"),
                                                   ("Retrieve", "established", "Established", "active")):
        await card.get_by_role("button", name=button, exact=True).click()
        await expect(card).to_have_attribute("data-state", widget_state)
        await expect(card).to_have_attribute("data-sync", "ok")
        await expect(desk.interaction(uuid)).to_have_attribute("data-state", gws_state)
        assert scene.lab.gws.calls[uuid].state == gws_state
        assert scene.lab.sip.leg_media[scene.lab.state(uuid).leg] == media  # the stand-in re-INVITEd
    assert len(await channels(scene.asterisk)) == 2
    await audio_flows(scene, desk, uuid)
