"""Two-way audio through the real Asterisk 22, inbound and outbound, measured on both ends.

The customer's side is sipp as the Genesys SIP Server: it plays a 1 kHz PCMU tone (a pcap) toward
Asterisk, and its SDP sends Asterisk's audio to an RTP sink on the same address that keeps every
packet. The agent is the widget in Chromium (SIP.js over WebSocket, DTLS-SRTP, Opus or PCMU),
whose fake microphone plays a 440 Hz tone. Proved with packets and tones, not call states:
the sink decodes what came back and finds the 440 Hz tone (Goertzel) in RTP without loss; the
browser's inbound RTP grows with audio energy (getStats) and a WebAudio analyser on the received
track finds its loudest frequency at 1 kHz. No hold music: nothing else could make either tone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_asterisk import LabAsterisk
from playwright.async_api import Page, expect
from widget.conftest import WidgetServer
from widget.test_phone import signed_in_phone

from bench.load_rig import CUSTOMER_IP, customer_answers, customer_calls, stop
from bench.rtp_media import RtpSink, tone, write_pcap

from .conftest import MIC_TONE_HZ

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

CUSTOMER_TONE_HZ = 1000.0
CALL_UUID = "G2BL4AUDIOTEST00000000000000001"
TALK_S = 12.0
MEDIA_PORT = 40000

# The received track's spectrum in the page: the loudest bin's frequency and the audio energy.
INBOUND = """async () => {
  const [s] = window.ctibridge.phone.sessions.values();
  const pc = s.session.sessionDescriptionHandler.peerConnection;
  const track = pc.getReceivers().find((r) => r.track?.kind === "audio").track;
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 4096;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  await ctx.resume();
  await new Promise((done) => setTimeout(done, 1500));
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let peak = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[peak]) peak = i;
  const stats = {};
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") Object.assign(stats, {
      received: r.packetsReceived, lost: r.packetsLost, energy: r.totalAudioEnergy, codec: r.codecId});
  });
  await ctx.close();
  return {peak_hz: peak * ctx.sampleRate / analyser.fftSize, peak_db: bins[peak], ...stats};
}"""


@pytest.fixture
async def customer(tmp_path: Path) -> AsyncIterator[RtpSink]:
    """The customer's ears (the sink) and voice (customer.pcap, played by sipp from tmp_path)."""
    write_pcap(tmp_path / "customer.pcap", tone(CUSTOMER_TONE_HZ, TALK_S + 5))
    sink, _ = await RtpSink.open(CUSTOMER_IP)
    yield sink
    sink.close()


def sink_port(sink: RtpSink) -> int:
    assert sink.transport is not None
    return int(sink.transport.get_extra_info("sockname")[1])


async def both_ways(page: Page, sink: RtpSink) -> dict[str, Any]:
    """Once the call is up: wait for audio to flow, then check each direction."""
    card = page.locator("article[data-phone-key]")
    await expect(card).to_have_attribute("data-state", "established", timeout=15000)
    await expect(card.locator(".media")).to_have_attribute("data-dtls", "connected", timeout=15000)
    await asyncio.sleep(3)  # a few seconds of speech each way
    inbound = await page.evaluate(INBOUND)
    heard = sink.stats()
    assert heard.packets >= 100, heard  # 20 ms packets: at least 2 s of the agent's voice
    assert heard.loss_share < 0.02, heard
    assert heard.tone_share(MIC_TONE_HZ) > 0.8, (heard.tone_share(MIC_TONE_HZ), heard.rms())
    assert heard.tone_share(CUSTOMER_TONE_HZ) < 0.05  # not the customer's own tone echoed
    assert inbound["received"] >= 100 and inbound["energy"] > 0, inbound
    assert inbound["lost"] <= 0.02 * inbound["received"], inbound
    assert abs(inbound["peak_hz"] - CUSTOMER_TONE_HZ) < 30, inbound
    print(f"audio: browser {inbound}; customer heard {heard.packets} packets, {heard.lost} lost, "
          f"{MIC_TONE_HZ:.0f} Hz share {heard.tone_share(MIC_TONE_HZ):.2f}")
    return inbound


async def test_inbound_call_carries_audio_both_ways(
    page: Page, widget_server: WidgetServer, asterisk: LabAsterisk, customer: RtpSink, tmp_path: Path,
) -> None:
    await signed_in_phone(page, widget_server, asterisk.settings.password("5001"), autoAnswer="1")
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")
    sipp = await customer_calls(tmp_path, [("5001", CALL_UUID)], int(TALK_S * 1000), 1, "inbound",
                                5200, MEDIA_PORT, sink_port(customer))
    try:
        await both_ways(page, customer)
        assert await asyncio.wait_for(sipp.wait(), TALK_S + 10) == 0  # answered, talked, hung up
    finally:
        await stop(sipp)


async def test_outbound_call_carries_audio_both_ways(
    page: Page, widget_server: WidgetServer, asterisk: LabAsterisk, customer: RtpSink, tmp_path: Path,
) -> None:
    await signed_in_phone(page, widget_server, asterisk.settings.password("5001"))
    await expect(page.locator("#phone-status")).to_have_attribute("data-status", "registered")
    sipp = await customer_answers(tmp_path, CALL_UUID, MEDIA_PORT, sink_port(customer))
    try:
        await page.get_by_label("Number to call").fill("5550002000")
        await page.keyboard.press("Enter")
        await both_ways(page, customer)
        await page.locator("article[data-phone-key]").get_by_role("button", name="Hang up").click()
        assert await asyncio.wait_for(sipp.wait(), 10) == 0  # answered, and saw the agent's BYE
    finally:
        await stop(sipp)
