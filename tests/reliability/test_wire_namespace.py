"""Issue 15 item 5: the event log's internal records and the AMI wire's frames are two namespaces.

An AMI peer that sends a frame carrying the event log's internal keys (``_link: shutdown``, or
``_link: booted`` with a negative uptime, which as a record of our own would mean "Asterisk
restarted") must not end the live calls: on the wire those headers mean nothing. Real service,
real sockets, the AMI simulator sending the frames.
"""

from __future__ import annotations

import json

from eventually import eventually
from service_rig import WITHIN, running_service

FOREIGN_FRAMES = [
    {"_link": "shutdown"},
    {"_link": "booted", "uptime": "-5"},
    {"_link": "lost"},
    {"_link": "resync_begin"},
    {"_link": "resync_end"},
]


async def test_frames_with_the_logs_internal_keys_leave_the_live_calls_alone() -> None:
    async with running_service() as rig:
        # one correlated call: Genesys offers it, the gateway rings the agent's phone
        uuid = rig.gws.call_ringing("5001", ani="+15550001234")
        rig.ami.pbx.inbound_ring("5001", "+15550001234", "", uuid, "sip-call-1")
        widget = await rig.widget("agent1", "5001")
        pipeline = rig.components.pipeline
        def both_sides() -> bool:
            return [c.get("asterisk") is not None for c in pipeline.correlator.calls()] == [True]
        await eventually(both_sides, what="the live call, seen by both sides")
        def states() -> list[tuple[str, str]]:  # (call, state): what the attack used to end
            return [(c["id"], c["state"]) for c in pipeline.correlator.calls()]
        calls_before = states()

        registry = pipeline.metrics.registry
        errors_before = registry.get_sample_value("ctibridge_parse_errors_total", {"source": "ami"}) or 0
        for frame in FOREIGN_FRAMES:
            rig.ami.publish_raw(frame)
        # a malformed event after them (a counted parse error): once it is counted, the frames
        # before it went through the pipeline too (one connection, one queue, in order)
        rig.ami.publish_raw({"Event": "Newchannel"})
        await eventually(lambda: registry.get_sample_value(
            "ctibridge_parse_errors_total", {"source": "ami"}) == errors_before + 1, what="the marker")
        await pipeline.settled()

        assert states() == calls_before
        assert pipeline.links["ami"] == "connected"
        await widget.send_str('{"type": "ping"}')
        frames = []
        while (frame := json.loads((await widget.receive(timeout=WITHIN)).data))["type"] != "pong":
            frames.append(frame)
        assert [f for f in frames if f.get("op") == "removed"] == [], frames
        await widget.close()
