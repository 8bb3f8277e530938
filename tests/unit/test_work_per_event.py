"""The correlator's work per event does not grow with the number of live calls on a DN.

Work is counted, not timed: the function calls, Python and builtin (``sys.setprofile``), made
while feeding the same 50 calls (set up, then hung up) on top of few or of many live calls of one
DN. The load is ``bench.one_dn``'s, which prints the timing.
"""

from __future__ import annotations

import sys
from collections import Counter
from types import FrameType
from typing import Any

from bench import one_dn
from ctibridge.core.correlator import Correlator

MEASURED = 50


def work_of_50_calls_on_top_of(live: int) -> Counter[str]:
    core = Correlator()
    one_dn.feed(core, one_dn.calls(0, live))
    measured = [*one_dn.calls(live, MEASURED)]
    measured += [ev for i in range(live, live + MEASURED) for ev in one_dn.hangup(i, live / 1000 + 1)]
    calls: Counter[str] = Counter()

    def count(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            calls[f"{frame.f_code.co_filename}:{frame.f_code.co_name}"] += 1
        elif event == "c_call":  # builtins and C methods: a scan of a dict or set shows here
            calls[getattr(arg, "__qualname__", "?")] += 1

    sys.setprofile(count)
    try:
        one_dn.feed(core, measured)
    finally:
        sys.setprofile(None)
    return calls


def test_work_per_event_is_the_same_with_20_or_2000_live_calls_on_the_dn() -> None:
    few, many = work_of_50_calls_on_top_of(20), work_of_50_calls_on_top_of(2_000)
    grown = {name: (few[name], n) for name, n in many.items() if n > few[name] * 1.02 + 2}
    assert sum(few.values()) > 50 * one_dn.EVENTS_PER_CALL  # the counter sees the work
    assert grown == {}, f"function calls that grew with the live calls: {grown}"
