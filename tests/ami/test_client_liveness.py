"""AMI liveness is judged on the link's own bytes, not on a Pong queued behind a burst of events.

A burst the consumer needs longer than the Ping deadline to work through (as a 200,000-event
burst through the correlator did) delays the Pong; the events arriving meanwhile prove the link
alive, so the client must not reconnect and resync mid-burst. A link that sends nothing at all is
still dropped (``test_client_edge.py``)."""

from __future__ import annotations

import asyncio
import time

from fake_ami import FakeAmi, frame
from test_client_edge import Recorder, fake, recorder, settings  # noqa: F401

from ctibridge.ami.client import AmiClient

BURST = 20_000  # 1.6 MB: the Pong to a Ping sent during the burst is several 256 kB reads behind
WORK_PER_EVENT_S = 0.0001  # the consumer's share of an event: 2 s for the burst, > the deadline
WITHIN = 60.0  # generous: on a loaded machine the burst takes longer, which only makes it harder


class BusyRecorder(Recorder):
    """Works on each message on the event loop, as the service's pipeline does."""

    def on_message(self, raw: dict[str, object], t: float) -> None:
        super().on_message(raw, t)
        if raw.get("Event") == "Newexten":
            busy_until = time.perf_counter() + WORK_PER_EVENT_S
            while time.perf_counter() < busy_until:
                pass


async def test_a_pong_late_behind_a_burst_does_not_drop_the_link(fake: FakeAmi) -> None:  # noqa: F811
    busy = BusyRecorder()
    client = AmiClient(settings(fake.port, ping_interval=0.05, ping_timeout=0.3), busy.on_message,
                       busy.on_link)
    await client.start(timeout_s=WITHIN)
    try:
        event = frame("Event: Newexten", "Channel: PJSIP/5001-00000001", "Context: from-genesys")
        started = time.monotonic()
        await fake.push(event * BURST)  # one write: every Pong from now on is queued behind it
        async with asyncio.timeout(WITHIN):
            while len(busy.events("Newexten")) < BURST and "lost" not in busy.links():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert busy.links() == ["connected", "booted", "resync_begin", "resync_end"]  # never lost
        assert time.monotonic() - started > 0.3  # the burst did outlast the Ping deadline
        assert fake.connections == 1
    finally:
        await client.close()
