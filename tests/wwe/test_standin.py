"""The WWE stand-in as an agent and as web content see it: login, agent state and interactions
from the GWS simulator (REST v2 + CometD), WWE's buttons calling the simulator's REST API, and the
Service Client API round trip asserted in the browser (replies by referenceId, errorMessage,
subscribe + events, a non-accepted origin ignored)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Frame, Page, expect
from widget.conftest import WidgetServer

from ctibridge.gateway.wwe_options import WORKSPACE_SECTION, wwe_options
from ctibridge.sim.gws import GwsSimulator

from .conftest import DN
from .desk import log_in

pytestmark = pytest.mark.browser

# Web content speaking the Service Client API by hand, so the test sees every message.
PROBE = """<!doctype html><meta charset="utf-8"><title>probe</title><script>
  const wwe = new URL(location.href).searchParams.get("wwe");
  window.got = [];
  window.frameId = null;
  addEventListener("message", (e) => {
    if (e.origin !== wwe) return;
    if (e.data.frameId) window.frameId = e.data.frameId;
    window.got.push(e.data);
  });
  let next = 0;
  window.send = (msg) => {
    const referenceId = `${location.hostname}-${++next}`;
    parent.postMessage({...msg, referenceId, userAgent: "WWE Client", protocolVersion: 2,
                        frameId: window.frameId}, wwe);
    return referenceId;
  };
</script>"""


def probe_options(widget_server: WidgetServer, gws: GwsSimulator) -> None:
    """Two web contents: the probe on the accepted origin, and the same probe on another origin."""
    widget_server.pages["probe.html"] = PROBE
    accepted = wwe_options(f"{widget_server.origin}/pages/probe.html?wwe={gws.base_url}", [gws.base_url],
                           section="Accepted", label="Accepted")
    other = f"http://localhost:{widget_server.port}/pages/probe.html?wwe={gws.base_url}"
    accepted[WORKSPACE_SECTION]["workspace.web-content"] = "Accepted,Other"
    gws.wwe_options = accepted | {"Other": {"label": "Other", "url": other}}


async def answer_to(frame: Frame, message: dict[str, Any]) -> dict[str, Any]:
    ref = await frame.evaluate("(m) => send(m)", message)
    reply = await frame.wait_for_function("(ref) => got.find((m) => m.referenceId === ref)", arg=ref)
    result: dict[str, Any] = await reply.json_value()
    return result


async def test_agent_logs_in_sets_ready_and_works_a_call_with_the_rest_api(
    page: Page, widget_server: WidgetServer, gws: GwsSimulator,
) -> None:
    probe_options(widget_server, gws)
    await log_in(page, gws)
    await expect(page.locator("#agent-state")).to_have_text("Not Ready")
    await page.get_by_role("button", name="Ready", exact=True).click()
    await expect(page.locator("#agent-state")).to_have_text("Ready")  # back through CometD
    assert gws.agent_states[DN] == "Ready"

    call_id = gws.call_ringing(DN, ani="+15550001000", dnis="8000", user_data={"Segment": "Gold"})
    card = page.locator(f'li[data-call-id="{call_id}"]')
    await expect(card).to_have_attribute("data-state", "Ringing")
    assert await card.locator("dl").inner_text() == (
        "ANI\n+15550001000\nDNIS\n8000\nState\nRinging\nType\nInbound\nSegment\nGold")
    for button, state in [("Answer", "Established"), ("Hold", "Held"), ("Retrieve", "Established")]:
        await card.get_by_role("button", name=button, exact=True).click()
        await expect(card).to_have_attribute("data-state", state)

    await card.get_by_role("button", name="Consult").click()
    await expect(page.locator("#message")).to_have_text("Enter a destination first")
    await card.get_by_label("Destination").fill("5002")
    await card.get_by_role("button", name="Consult").click()
    consult = page.locator(f'li[data-call-id]:not([data-call-id="{call_id}"])')
    await expect(consult).to_have_attribute("data-state", "Established")
    await expect(card).to_have_attribute("data-state", "Held")
    await consult.get_by_role("button", name="Complete transfer").click()
    await expect(page.locator("li.interaction")).to_have_count(0)
    assert [(op.call_id == call_id, op.name) for op in gws.operations] == [
        (True, "Answer"), (True, "Hold"), (True, "Retrieve"), (True, "InitiateTransfer"),
        (False, "CompleteTransfer")]
    assert gws.operations[3].body["destination"] == {"phoneNumber": "5002"}


async def test_service_client_api_round_trip_and_origin_check(
    page: Page, widget_server: WidgetServer, gws: GwsSimulator,
) -> None:
    probe_options(widget_server, gws)
    await log_in(page, gws)
    accepted = page.frame_locator('iframe[data-section="Accepted"]')
    await expect(accepted.locator("title")).to_have_count(1)
    frames = {f.url.split("/")[2].split(":")[0]: f for f in page.frames if "probe.html" in f.url}
    probe, other = frames["127.0.0.1"], frames["localhost"]
    await probe.wait_for_function("window.frameId === 'web-content-0'")  # WWE named the frame

    agent = await answer_to(probe, {"request": "agent.get"})
    assert agent["userAgent"] == "WWE" and agent["result"]["dn"] == DN
    assert agent["result"]["userName"] == f"agent{DN}"
    jwt = await answer_to(probe, {"request": "auth.getJwtToken"})
    assert gws.issuer.agent_of(jwt["result"]) == f"agent{DN}"  # a JWT of the simulator's issuer
    unknown = await answer_to(probe, {"request": "voice.hold", "parameters": ["no-such-call"]})
    assert unknown["errorMessage"] == "No interaction no-such-call" and "result" not in unknown
    nonsense = await answer_to(probe, {"request": "no.such.request"})
    assert nonsense["errorMessage"] == "Unknown request no.such.request"

    subscribed = await answer_to(probe, {"event": "subscribe", "data": ["interaction", "agent"]})
    assert subscribed["subscriptionId"]
    call_id = gws.call_ringing(DN, ani="+15550001000", user_data={"Segment": "Gold"})
    event = await probe.wait_for_function("got.find((m) => m.event === 'interaction')")
    interaction = (await event.json_value())["data"]
    assert (interaction["interactionId"], interaction["state"], interaction["userData"]) == (
        call_id, "Ringing", {"Segment": "Gold"})
    listed = await answer_to(probe, {"request": "interaction.getInteractions"})
    assert [i["callUuid"] for i in listed["result"]] == [call_id]
    held = await answer_to(probe, {"request": "voice.answer", "parameters": [call_id]})
    assert "errorMessage" not in held and gws.calls[call_id].state == "Established"

    # The same probe on a non-accepted origin: WWE takes none of its messages and answers nothing.
    ref = await other.evaluate("send({request: 'agent.get'})")
    trace = await page.wait_for_function(
        "(ref) => window.wwe.host.trace.find((m) => m.referenceId === ref)", arg=ref)
    assert (await trace.json_value())["taken"] is False
    assert await other.evaluate("got") == []  # not even the frameId


async def test_transfer_conference_and_hang_up_buttons(
    page: Page, widget_server: WidgetServer, gws: GwsSimulator,
) -> None:
    probe_options(widget_server, gws)
    await log_in(page, gws)
    first = gws.call_ringing(DN, ani="+15550001000")
    card = page.locator(f'li[data-call-id="{first}"]')
    await card.get_by_role("button", name="Answer").click()
    await expect(card).to_have_attribute("data-state", "Established")
    await card.get_by_label("Destination").fill("5003")
    await card.get_by_role("button", name="Transfer", exact=True).click()
    await expect(card).to_have_count(0)

    second = gws.call_ringing(DN, ani="+15550002000")
    card = page.locator(f'li[data-call-id="{second}"]')
    await card.get_by_role("button", name="Answer").click()
    await card.get_by_label("Destination").fill("5004")
    await card.get_by_role("button", name="Conference", exact=True).click()
    consult = page.locator(f'li[data-call-id]:not([data-call-id="{second}"])')
    await consult.get_by_role("button", name="Complete conference").click()
    await expect(consult).to_have_count(0)
    await expect(card).to_have_attribute("data-state", "Established")  # now a conference
    await card.get_by_role("button", name="Hang up").click()
    await expect(page.locator("li.interaction")).to_have_count(0)
    assert [op.name for op in gws.operations] == [
        "Answer", "SingleStepTransfer", "Answer", "InitiateConference", "CompleteConference", "Hangup"]
    assert gws.operations[1].body["destination"] == {"phoneNumber": "5003"}
