"""The load run's short form (bench/load_asterisk.py): ten simultaneous agents through the real
Asterisk 22, eight as sipp SIP phones and two as the widget in Chromium (WebRTC), while sipp plays
the Genesys SIP Server with RTP and the GWS simulator reports what SIP Server would. Correctness
only, never timing: every call joined to its CallUUID with both sides in sync, seen ringing and
established, gone after the customer's BYE; audio reached both browsers; sipp's calls all
succeeded."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load_asterisk import load

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]


async def test_ten_simultaneous_agents_through_the_real_asterisk(
    asterisk_sandbox_built: Path, tmp_path: Path,
) -> None:
    [step] = await load([8], browsers=2, rate=10, window_s=2, workdir=tmp_path)
    assert step.misses == []
    assert (step.joined, step.rang, step.removed) == (10, 10, 10)
    assert step.sipp_rc == [0, 0]
    assert step.browser_audio == 2
    assert step.deltas >= 10 * 3  # ringing, established, removed at least
