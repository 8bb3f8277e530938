"""Many live calls on one DN: the correlator's cost per event must not grow with them.

    python -m bench.one_dn [--quick]

Feeds ``LIVE`` inbound calls answered on DN 5001 (trunk and agent channel, CallUUID, Dial,
bridge: 7 events a call; the replay's ``tick`` before each event, as the service and ``ctibridge
replay`` do), all left up, then hangs them all up. Prints the CPU time of the whole load and the
cost per event of the first and of the last 1,000 calls: equal when the work per event does not
depend on how many calls the DN has (it was quadratic: 20,000 live calls took 37 s of CPU).
``tests/unit/test_work_per_event.py`` counts the work of the same load, which a timing cannot prove.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

from bench.common import Row, Target, row, table
from ctibridge.core.correlator import Correlator
from ctibridge.core.events import (
    BridgeUpdate,
    Channel,
    ChannelHangup,
    ChannelUpdate,
    DialUpdate,
    InboundEvent,
)

LIVE = 20_000
QUICK_LIVE = 2_000
DN = "5001"
EVENTS_PER_CALL = 7


def answered_call(i: int, t: float, dn: str = DN) -> list[InboundEvent]:
    """The events of one inbound call answered on ``dn`` (as in the real Asterisk captures)."""
    uuid = {"CALLUUID": f"UUID{i:08d}"}
    trunk = Channel(f"t{i}", f"t{i}", f"PJSIP/genesys-{i:08x}", 4, "from-genesys", dn, f"+1555{i:07d}",
                    "Customer", vars=uuid)
    agent = Channel(f"a{i}", f"t{i}", f"PJSIP/{dn}-{i:08x}", 0, "from-genesys", dn, dn, "", vars=uuid)
    agent_up = Channel(f"a{i}", f"t{i}", agent.name, 6, "from-genesys", dn, dn, "", vars=uuid)
    trunk_up = Channel(f"t{i}", f"t{i}", trunk.name, 6, "from-genesys", dn, trunk.caller_num, "Customer",
                       vars=uuid)
    return [ChannelUpdate(t, "Newchannel", trunk), ChannelUpdate(t, "Newchannel", agent),
            DialUpdate(t, trunk, agent, ""), ChannelUpdate(t, "Newstate", agent_up),
            ChannelUpdate(t, "Newstate", trunk_up), BridgeUpdate(t, f"b{i}", agent_up, True),
            BridgeUpdate(t, f"b{i}", trunk_up, True)]


def hangup(i: int, t: float, dn: str = DN) -> list[InboundEvent]:
    return [ChannelHangup(t, Channel(f"{kind}{i}", f"t{i}", name, 6), 16, "Normal Clearing")
            for kind, name in (("t", f"PJSIP/genesys-{i:08x}"), ("a", f"PJSIP/{dn}-{i:08x}"))]


def calls(first: int, n: int, t0: float = 0.0) -> Iterator[InboundEvent]:
    """``n`` answered calls, one every millisecond of event time."""
    for i in range(first, first + n):
        yield from answered_call(i, t0 + i / 1000)


def feed(core: Correlator, events: Iterator[InboundEvent] | list[InboundEvent]) -> int:
    n = 0
    for ev in events:
        core.tick(ev.t)
        core.feed(ev)
        n += 1
    return n


def run(quick: bool = False) -> list[Row]:
    live = QUICK_LIVE if quick else LIVE
    core = Correlator()
    cpu0 = time.process_time()
    first = time.process_time()
    feed(core, calls(0, 1_000))
    first_us = (time.process_time() - first) / (1_000 * EVENTS_PER_CALL) * 1e6
    feed(core, calls(1_000, live - 2_000))
    last = time.process_time()
    feed(core, calls(live - 1_000, 1_000))
    last_us = (time.process_time() - last) / (1_000 * EVENTS_PER_CALL) * 1e6
    t_end = live / 1000 + 1
    for i in range(live):
        feed(core, hangup(i, t_end))
    total = time.process_time() - cpu0
    assert core.calls() == []
    return [
        row("one_dn", f"cpu for {live:,} live calls on one DN (set up, then hung up)", "s", [total]),
        row("one_dn", "per event, first 1,000 calls", "us", [first_us]),
        row("one_dn", f"per event, last 1,000 of {live:,} calls", "us", [last_us],
            Target("<=", first_us * 1.5, "<= 1.5x the first 1,000")),
    ]


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv)))
