"""Regenerate docs/timeline-<scenario>.png: the timeline of recorded logs, shot by headless Chromium.

    .venv/bin/python scripts/timeline_screenshots.py

Uses Debian's /usr/bin/chromium through Playwright (no downloaded browser).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import async_playwright

from ctibridge.logs.eventlog import read_records
from ctibridge.logs.replay import replay
from ctibridge.logs.timeline import render_timeline

ROOT = Path(__file__).resolve().parents[1]
SHOTS = {  # docs name -> recorded log
    "inbound_answered": "tests/recordings/inbound_answered.jsonl",
    "hold_retrieve_gateway": "tests/recordings/asterisk-hold-then-retrieve.jsonl",
}
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def main() -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        for name, log in SHOTS.items():
            records = list(read_records(ROOT / log))
            result = replay(records, settle=5.0)
            await page.set_content(render_timeline(records, result.deltas, title=f"Timeline: {name} ({log})"))
            await page.screenshot(path=str(ROOT / "docs" / f"timeline-{name}.png"), full_page=True)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
