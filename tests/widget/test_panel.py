"""The CTI panel and the bridge client in Chromium, against real protocol frames (pydantic models of
ctibridge.hub.protocol) sent by the scripted peer: rendering, actions, resume, close codes."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from ctibridge.hub.protocol import (
    ActionResult,
    CallView,
    DeltaMessage,
    ResumeMessage,
    SnapshotMessage,
)

from .conftest import WidgetServer
from .widget_server import PeerConnection, call_view, hmac_hello, sign_in

pytestmark = pytest.mark.browser

WIDGET = {"dn": "5001", "dataKeys": "Segment,AccountId"}


async def signed_in(page: Page, server: WidgetServer, token: str = "tok-5001",
                    **params: str) -> PeerConnection:
    """Load the widget, sign in with ``token``, take its hello (checked)."""
    await page.goto(server.url(**{**WIDGET, **params}))
    await sign_in(page, token)
    conn = await server.peer.accept()
    assert await conn.recv_type("hello") == hmac_hello(token)
    return conn


async def open_live(page: Page, server: WidgetServer, calls: list[CallView], **params: str) -> PeerConnection:
    """Signed in, answered with a snapshot of ``calls`` at seq 10 of epoch e1."""
    conn = await signed_in(page, server, **params)
    await conn.send(SnapshotMessage(dn="5001", epoch="e1", seq=10, calls=calls))
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "live")
    return conn


async def test_snapshot_renders_the_call(page: Page, widget_server: WidgetServer) -> None:
    await open_live(page, widget_server, [call_view()])
    card = page.locator('article[data-call-id="5001-3"]')
    await expect(card.locator(".who")).to_have_text("José Müller +15550001000")
    await expect(card).to_have_attribute("data-state", "established")
    facts = await card.locator(".facts").inner_text()
    assert "ANI\n+15550001000" in facts and "DNIS\n5001" in facts
    assert "Segment\nGold" in facts and "AccountId\nA-7731" in facts
    assert "IVRPath" not in facts  # not in the configured subset
    timer = card.locator(".timer")
    await expect(timer).to_have_text(re.compile(r"^1:0[5-9]$"))
    first = await timer.inner_text()
    await expect(timer).not_to_have_text(first, timeout=3000)  # it runs
    await expect(card.locator(".sync")).to_have_text("Sync ok Genesys Established · Asterisk up")
    labels = await card.locator(".buttons button").all_inner_texts()
    assert labels == ["Hang up", "Hold", "Transfer", "Consult", "Keypad"]
    await expect(card.locator(".destination")).to_be_visible()


async def test_diverged_call_shows_both_sides(page: Page, widget_server: WidgetServer) -> None:
    call = call_view(state="held", actions=["retrieve", "hangup"],
                     sync={"status": "diverged", "rule": "R3 held_mismatch", "since": 0,
                           "detail": "Genesys says Established, Asterisk channel is on hold for 6 s"},
                     asterisk={"state": "up", "linkedid": "1795597860.2", "held": True})
    await open_live(page, widget_server, [call])
    sync = page.locator('article[data-call-id="5001-3"] .sync')
    await expect(sync).to_contain_text("Sync diverged R3 held_mismatch")
    rows = await sync.locator("tbody tr").all_inner_texts()
    assert rows == ["State\tEstablished\tup", "Held\tfalse\ttrue"]
    await expect(sync.locator(".detail")).to_have_text(
        "Genesys says Established, Asterisk channel is on hold for 6 s")


async def test_hold_from_the_keyboard_follows_the_result(page: Page, widget_server: WidgetServer) -> None:
    conn = await open_live(page, widget_server, [call_view()])
    hold = page.get_by_role("button", name="Hold")
    await hold.focus()
    await page.keyboard.press("Enter")
    action = await conn.recv_type("action")
    assert action == {"type": "action", "id": action["id"], "call_id": "5001-3", "action": "hold",
                      "params": {}}
    await conn.send(DeltaMessage(dn="5001", seq=11, op="updated", t=0.0,
                                 call=call_view(state="held", actions=["hangup", "retrieve"])))
    await conn.send(ActionResult(id=action["id"], ok=True, outcome="confirmed", latency_ms=212.4))
    card = page.locator('article[data-call-id="5001-3"]')
    await expect(card.locator(".result")).to_have_text("Hold: confirmed · 212 ms")
    await expect(card).to_have_attribute("data-state", "held")
    await expect(card.locator(".buttons button")).to_have_text(["Hang up", "Retrieve"])
    await expect(page.locator("#announcer")).to_have_text("José Müller: On hold")


async def test_transfer_and_dtmf_send_their_params(page: Page, widget_server: WidgetServer) -> None:
    conn = await open_live(page, widget_server, [call_view()])
    card = page.locator('article[data-call-id="5001-3"]')
    await card.get_by_role("button", name="Transfer").click()
    await expect(card.locator(".result")).to_have_text("Enter a destination first")
    await expect(card.locator(".destination")).to_be_focused()
    await card.locator(".destination").fill("5002")
    await card.get_by_role("button", name="Transfer").click()
    action = await conn.recv_type("action")
    assert (action["action"], action["params"]) == ("blind_transfer", {"destination": "5002"})
    await conn.send(ActionResult(id=action["id"], ok=False, outcome="failed",
                                 detail="AMI BlindTransfer: No such channel"))
    await expect(card.locator(".result")).to_have_text(
        "Transfer: failed — AMI BlindTransfer: No such channel")

    keypad_toggle = card.get_by_role("button", name="Keypad")
    await keypad_toggle.click()
    await expect(keypad_toggle).to_have_attribute("aria-expanded", "true")
    await card.get_by_role("button", name="DTMF 7").click()
    action = await conn.recv_type("action")
    assert (action["action"], action["params"]) == ("dtmf", {"digits": "7"})


async def test_deltas_create_and_remove_cards(page: Page, widget_server: WidgetServer) -> None:
    conn = await open_live(page, widget_server, [])
    await expect(page.locator(".no-calls")).to_be_visible()
    ringing = call_view("5001-4", state="ringing", actions=["answer", "hangup"],
                        remote={"number": "+15550002000", "name": None})
    await conn.send(DeltaMessage(dn="5001", seq=11, op="created", call=ringing, t=0.0))
    card = page.locator('article[data-call-id="5001-4"]')
    await expect(card.locator(".who")).to_have_text("+15550002000")
    await expect(card.locator(".buttons button")).to_have_text(["Answer", "Hang up"])
    await conn.send(DeltaMessage(dn="5001", seq=12, op="removed", call=ringing, t=0.0))
    await expect(card).to_have_count(0)
    await expect(page.locator(".no-calls")).to_be_visible()


async def test_bridge_loss_reconnects_and_resumes_without_losing_the_call(
    page: Page, widget_server: WidgetServer,
) -> None:
    conn = await open_live(page, widget_server, [call_view()])
    await conn.close(1011, "restart")
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "reconnecting")
    await expect(page.locator('article[data-call-id="5001-3"]')).to_be_visible()  # kept while away

    again = await widget_server.peer.accept()
    hello = await again.recv_type("hello")
    assert hello["since"] == {"epoch": "e1", "seq": 10}
    await again.send(ResumeMessage(dn="5001", epoch="e1", from_seq=11))
    await again.send(DeltaMessage(dn="5001", seq=11, op="updated", t=0.0,
                                  call=call_view(state="held", actions=["retrieve"])))
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "live")
    await expect(page.locator('article[data-call-id="5001-3"]')).to_have_attribute("data-state", "held")


async def test_sequence_gap_makes_the_client_resume(page: Page, widget_server: WidgetServer) -> None:
    conn = await open_live(page, widget_server, [call_view()])
    await conn.send(DeltaMessage(dn="5001", seq=12, op="updated", call=call_view(state="held"), t=0.0))
    again = await widget_server.peer.accept()
    hello = await again.recv_type("hello")
    assert hello["since"] == {"epoch": "e1", "seq": 10}  # the gapped delta was not applied
    card = page.locator('article[data-call-id="5001-3"]')
    await expect(card).to_have_attribute("data-state", "established")


@pytest.mark.parametrize(("code", "reason", "error", "status"), [
    (4401, "expired", "token_expired", "unauthorized"),
    (4401, "wrong_issuer", "credential_refused", "unauthorized"),
    (4401, "session_expired", "session_expired", "unauthorized"),
    (4403, "dn_not_allowed", "dn_refused", "forbidden"),
    (4403, "origin_not_allowed", "origin_refused", "forbidden"),
])
async def test_refused_session_is_explained_and_not_retried(
    page: Page, widget_server: WidgetServer, code: int, reason: str, error: str, status: str,
) -> None:
    conn = await signed_in(page, widget_server)
    await conn.close(code, reason)
    alert = page.locator(f'.alert[data-error="{error}"]')
    await expect(alert).to_contain_text(f"({code}")
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", status)
    with pytest.raises(TimeoutError):
        await widget_server.peer.accept(within=1.0)  # no retry with the same hello


async def test_a_new_sign_in_after_a_refusal_connects_again(page: Page, widget_server: WidgetServer) -> None:
    conn = await signed_in(page, widget_server, "tok-old")
    await conn.close(4401, "expired")
    await expect(page.locator('.alert[data-error="token_expired"]')).to_be_visible()
    await sign_in(page, "tok-new")
    again = await widget_server.peer.accept()
    assert await again.recv_type("hello") == hmac_hello("tok-new")


async def test_identity_unavailable_is_retried(page: Page, widget_server: WidgetServer) -> None:
    conn = await signed_in(page, widget_server)
    await conn.close(4503, "identity_unavailable")
    await expect(page.locator('.alert[data-error="identity_unavailable"]')).to_be_visible()
    again = await widget_server.peer.accept()  # with backoff, same credential
    assert await again.recv_type("hello") == hmac_hello("tok-5001")


async def test_a_secret_in_the_url_is_ignored_and_named(page: Page, widget_server: WidgetServer) -> None:
    await page.goto(widget_server.url(**WIDGET, token="leaked", sipPassword="leaked"))
    await expect(page.locator('.alert[data-error="secret_in_url"]')).to_have_text(
        "Ignored token, sipPassword in the page address: secrets never go in a URL.")
    await expect(page.get_by_role("form", name="Sign in to the bridge")).to_be_visible()
    with pytest.raises(TimeoutError):
        await widget_server.peer.accept(within=1.0)  # the leaked token was not used


async def test_unreachable_bridge_is_shown_and_retried(page: Page, widget_server: WidgetServer) -> None:
    from .conftest import free_port

    await page.goto(widget_server.url(**WIDGET, bridgeUrl=f"ws://127.0.0.1:{free_port()}/ws"))
    await sign_in(page, "tok-5001")
    await expect(page.locator('.alert[data-error="bridge_unreachable"]')).to_be_visible()
    await expect(page.locator("#bridge-status")).to_have_attribute("data-status", "reconnecting")


async def test_silent_bridge_is_left_for_a_new_connection(page: Page, widget_server: WidgetServer) -> None:
    """The client pings every heartbeat; a bridge that answers nothing for silenceSeconds (a dead
    TCP path that never closes) is dropped and the client resumes on a new connection."""
    conn = await open_live(page, widget_server, [call_view()], heartbeatSeconds="0.3", silenceSeconds="1")
    assert await conn.recv_type("ping") == {"type": "ping"}
    again = await widget_server.peer.accept(within=5.0)  # the first socket is still open, unanswered
    hello = await again.recv_type("hello")
    assert hello["since"] == {"epoch": "e1", "seq": 10}
    await expect(page.locator('article[data-call-id="5001-3"]')).to_be_visible()


async def test_session_credential_sends_no_token(page: Page, widget_server: WidgetServer) -> None:
    """Served under the GWS origin, the agent's session cookie on the upgrade is the credential."""
    await page.goto(widget_server.url(dn="5001", credential="session"))
    await expect(page.get_by_role("form", name="Sign in to the bridge")).to_be_hidden()
    conn = await widget_server.peer.accept()
    assert await conn.recv_type("hello") == {"type": "hello", "dn": "5001", "credential": {"kind": "session"}}
