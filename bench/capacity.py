"""Capacity: 5,000 DNs configured, 1,000 live calls in one process; start-up; AMI resync time.

Each figure comes from a fresh child process (``python -m bench.capacity --child``) so RSS is
not the parent's: it loads the service modules, configures 5,000 DNs, feeds 1,000 established
calls (``i_queries`` capture up to its channel listing, with the GWS messages of the same calls)
through framer + parse + correlate, and prints JSON. Measured there:

* RSS growth for the 1,000 calls, and correlator state per call with tracemalloc (a second pass:
  the growth of traced memory from an empty correlator to 1,000 calls, deltas discarded);
* start-up: process spawn to ready (the service's imports, ``Correlator(5,000 DNs)``), and
  ``Correlator.restore`` of a 1,000-call ``export_state`` (what a successor owner adds);
* resync with 500 live calls: ``AmiLink resync_begin``, the 1,000 ``CoreShowChannel`` frames of
  those calls as bytes, ``resync_end``, through framer + parse + correlate.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import tracemalloc
from itertools import count
from pathlib import Path
from typing import Any

DNS = 5_000
LIVE_CALLS = 1_000
RESYNC_CALLS = 500
TEMPLATE = "i_queries"
ROOT = Path(__file__).resolve().parents[1]  # python -m bench.capacity runs from here


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _settings(dns: int) -> Any:
    from ctibridge.core.correlator import CorrelatorSettings
    return CorrelatorSettings(dns=frozenset(str(10000 + i) for i in range(dns)))


def _calls(n: int, with_gws: bool = True) -> tuple[list[Any], Any]:
    from bench.workload import load_templates, new_copy
    template = next(t for t in load_templates() if t.name == TEMPLATE)
    return [new_copy(template, str(10000 + i), i + 1, with_gws) for i in range(n)], count(1)


def _listing_frames(template: Any) -> tuple[range, list[int]]:
    """Frames before the channel listing (the live call), and the CoreShowChannel frames."""
    names = ["".join(p if isinstance(p, str) else p[1] for p in f).partition("\r\n")[0]
             for f in template.frames]
    listing = [i for i, n in enumerate(names) if n == "Event: CoreShowChannel"]
    return range(listing[0]), listing


def live_items(copies: list[Any], counter: Any) -> list[Any]:
    """Every message of the live part of the calls, built before anything is measured."""
    from bench.workload import call_items
    live, _ = _listing_frames(copies[0].template)
    return [item for copy in copies for item in call_items(copy, live, counter)]


def feed(core: Any, items: list[Any], t: float = 1.0) -> None:
    from ctibridge.core.ami_parse import AmiFramer, parse_ami
    from ctibridge.core.gws_parse import parse_gws
    framer = AmiFramer(expect_greeting=False)
    for kind, dn, payload in items:
        raws = framer.feed(payload) if kind == "ami" else (payload,)
        for raw in raws:
            event = parse_ami(raw, t) if kind == "ami" else parse_gws(raw, t, dn=dn)
            if event is not None:
                core.feed(event)  # deltas dropped: only the correlator's own state is measured


def resync_seconds(calls: int) -> float:
    from bench.workload import render
    from ctibridge.core.ami_parse import AmiFramer, parse_ami
    from ctibridge.core.correlator import Correlator
    from ctibridge.core.events import AmiLink
    copies, counter = _calls(calls)
    core = Correlator(_settings(DNS))
    feed(core, live_items(copies, counter))
    _, listing = _listing_frames(copies[0].template)
    data = b"".join(render(c, i, counter) for c in copies for i in listing)
    chunks = [data[i:i + 16384] for i in range(0, len(data), 16384)]
    gc.collect()
    start = time.perf_counter()
    t = 2.0
    core.feed(AmiLink(t, "resync_begin"))
    framer = AmiFramer(expect_greeting=False)
    for chunk in chunks:
        for raw in framer.feed(chunk):
            event = parse_ami(raw, t)
            if event is not None:
                core.feed(event)
    core.feed(AmiLink(t, "resync_end"))
    seconds = time.perf_counter() - start
    assert len(core.calls()) == calls, "resync lost live calls"
    return seconds


def child(quick: bool) -> dict[str, Any]:
    from ctibridge.core.correlator import Correlator

    live = 100 if quick else LIVE_CALLS
    out: dict[str, Any] = {"calls": live}
    # Pass 1: RSS and the state a successor would restore.
    copies, counter = _calls(live)
    items = live_items(copies, counter)
    rss0 = _rss_kb()
    core = Correlator(_settings(DNS))
    feed(core, items)
    gc.collect()
    out["rss_per_call_bytes"] = (_rss_kb() - rss0) * 1024 / live
    out["rss_mb"] = _rss_kb() / 1024
    assert len(core.calls()) == live, f"{len(core.calls())} live calls, expected {live}"
    state_json = json.dumps(core.export_state(), separators=(",", ":"))
    out["export_bytes_per_call"] = len(state_json) / live
    start = time.perf_counter()
    Correlator.restore(json.loads(state_json), _settings(DNS))
    out["restore_s"] = time.perf_counter() - start
    del core
    # Pass 2: traced memory of the correlator's state alone.
    copies, counter = _calls(live)
    items = live_items(copies, counter)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    core = Correlator(_settings(DNS))
    empty = tracemalloc.get_traced_memory()[0]
    feed(core, items)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    out["settings_bytes"] = empty - before
    out["state_per_call_bytes"] = (after - empty) / live
    out["resync_s"] = [resync_seconds(50 if quick else RESYNC_CALLS) for _ in range(1 if quick else 3)]
    return out


def _spawn(quick: bool) -> tuple[float, dict[str, Any]]:
    """(seconds from spawn to ready, the child's figures)."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "bench.capacity", "--child"] + (["--quick"] if quick else [])
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    ready_line = proc.stdout.readline()
    ready = time.perf_counter() - start
    rest, _ = proc.communicate(timeout=600)
    if proc.returncode != 0 or not ready_line.startswith("ready"):
        raise RuntimeError(f"capacity child failed ({proc.returncode})")
    return ready, json.loads(rest)


def ready_child(quick: bool) -> None:
    """Start-up: the service's modules loaded and a correlator for 5,000 DNs; then the figures."""
    import ctibridge.service.pipeline
    from ctibridge.core.correlator import Correlator
    try:
        import ctibridge.web.app  # noqa: F401
    except ImportError:
        pass  # the service may not have landed yet
    Correlator(_settings(DNS))
    print("ready", flush=True)
    print(json.dumps(child(quick)), flush=True)


def run(quick: bool = False) -> list[Any]:
    from bench.common import Target, row
    samples = [_spawn(quick) for _ in range(1 if quick else 3)]
    figures = [f for _, f in samples]
    resync = [s for f in figures for s in f["resync_s"]]
    calls = figures[0]["calls"]
    return [
        row("capacity.state_per_call", f"correlator state per live call ({calls}, tracemalloc)", "bytes",
            [f["state_per_call_bytes"] for f in figures], Target("<=", 4096, "<= 4 KB")),
        row("capacity.rss_per_call", "process RSS growth per live call", "bytes",
            [f["rss_per_call_bytes"] for f in figures]),
        row("capacity.rss", f"process RSS, {calls} calls, {DNS} DNs", "MB", [f["rss_mb"] for f in figures]),
        row("capacity.export_per_call", "export_state JSON per live call", "bytes",
            [f["export_bytes_per_call"] for f in figures]),
        row("capacity.startup", "spawn to ready (imports, 5,000 DNs)", "s", [s for s, _ in samples]),
        row("capacity.restore", f"Correlator.restore, {calls} calls", "s", [f["restore_s"] for f in figures]),
        row("capacity.resync", f"resync, {RESYNC_CALLS if not quick else 50} live calls "
            f"({2 * (RESYNC_CALLS if not quick else 50)} CoreShowChannel)", "s", resync,
            Target("<=", 1.0, "< 1 s")),
    ]


if __name__ == "__main__":
    if "--child" in sys.argv:
        ready_child("--quick" in sys.argv)
