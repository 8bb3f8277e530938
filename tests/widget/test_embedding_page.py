"""A page that is not WWE (an operator desk) embeds the widget and speaks the same Service Client
API: it answers agent.get with the DN and auth.getJwtToken with a bridge-minted agent token, which
the widget sends as an ``hmac`` credential. Nothing goes through the widget's URL."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from .conftest import WidgetServer
from .widget_server import hmac_hello

pytestmark = pytest.mark.browser

AGENT_TOKEN = "eyJhZ2VudCI6ImFnZW50NTAwMSJ9.c2lnbmF0dXJl"  # the payload.signature shape of `ctibridge token`

DESK = """<!doctype html><meta charset="utf-8"><title>operator desk</title>
<iframe title="Phone" width="300" height="500" allow="microphone" src="WIDGET"></iframe>
<script>
  const widget = new URL(document.querySelector("iframe").src).origin;
  const answers = {"agent.get": {dn: "5001"}, "auth.getJwtToken": "TOKEN"};
  addEventListener("message", (e) => {
    if (e.origin !== widget || e.data.userAgent !== "WWE Client") return;
    const reply = {referenceId: e.data.referenceId, userAgent: "WWE desk"};
    if (e.data.event === "subscribe") reply.subscriptionId = "s1";
    else if (e.data.request in answers) reply.result = answers[e.data.request];
    else if (e.data.request === "interaction.getInteractions") reply.result = [];
    else reply.errorMessage = "not offered here";
    e.source.postMessage(reply, widget);
  });
</script>"""


async def test_a_desk_hands_the_widget_an_agent_token_through_the_api(
    page: Page, widget_server: WidgetServer,
) -> None:
    desk_origin = f"http://localhost:{widget_server.port}"
    widget = widget_server.url(wweOrigins=desk_origin)
    widget_server.pages["desk.html"] = DESK.replace("WIDGET", widget).replace("TOKEN", AGENT_TOKEN)
    await page.set_viewport_size({"width": 320, "height": 520})
    await page.goto(f"{desk_origin}/pages/desk.html")
    conn = await widget_server.peer.accept()
    assert await conn.recv_type("hello") == hmac_hello(AGENT_TOKEN)
    sign_in_form = page.frame_locator("iframe").get_by_role("form", name="Sign in to the bridge")
    await expect(sign_in_form).to_be_hidden()
