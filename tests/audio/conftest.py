"""Chromium whose fake microphone speaks a known tone (MIC_TONE_HZ), and the widget server and
page fixtures of tests/widget."""

from __future__ import annotations

from pathlib import Path

import pytest
from widget.conftest import CHROMIUM_ARGS, browser, page, widget_server  # noqa: F401 (fixtures)

from bench.rtp_media import tone, write_wav

MIC_TONE_HZ = 440.0
MIC_RATE = 48000


@pytest.fixture
def chromium_args(tmp_path: Path) -> list[str]:
    mic = write_wav(tmp_path / "mic.wav", tone(MIC_TONE_HZ, 2.0, rate=MIC_RATE), MIC_RATE)
    return [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={mic}",
            "--autoplay-policy=no-user-gesture-required"]
