"""Load through the real Asterisk 22: steps of concurrent calls with RTP, the bridge following.

    python bench/load_asterisk.py [--steps 10,50,100,200,300] [--browsers 10] [--json FILE]

Each step: sipp as the Genesys SIP Server offers ``N`` calls (``--rate`` a second, each with its
own X-Genesys-CallUUID, playing a PCMU tone from a pcap) to ``N`` agent DNs answered by sipp as
plain SIP phones (which echo the RTP back, so audio flows both ways through Asterisk), plus one call
to each of ``--browsers`` WebRTC agents: the widget in Debian Chromium, registered with SIP.js,
answering by itself (DTLS-SRTP, ICE on loopback, fake microphone). The bridge (``ctibridge run``,
its own process) follows AMI and the GWS simulator, which reports what SIP Server would
(``bench/load_genesys.py``, its own process); one widget WebSocket client per DN watches. While
every call is up, for ``--window-s``: CPU and RSS of the bridge and of Asterisk (/proc), AMI events
a second (the Genesys stand-in's own AMI login reads the same events as the bridge), RTP loss and
jitter at the browsers (getStats). Over the step: the latency from the bridge's adapter reading an
event to the widget client holding its delta (both clocks are this machine's wall clock), and
completeness against the SIP side's ground truth (each call's DN and CallUUID, and whether sipp saw
its INVITE answered): an answered call joined (one call with both sides, in sync, established), a
call never answered never shown established, each seen ringing and removed at the end.

Runs in a private network namespace (as the tests do: loopback plus the NO-CARRIER ICE helper
address) entered at start; needs root. Prints a table; ``--json`` keeps the figures for
``bench/load_plot.py``. ``tests/load/test_load_short.py`` runs a short form for correctness only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "tests")]

from load_rig import CUSTOMER_MEDIA_PORT, Rig, answered_uuids, customer_calls, rig, sip_phones, stop  # noqa: E402
from proc_figures import (  # noqa: E402
    TICKS,
    asterisk_rtp_drops,
    cpu_ticks,
    load_average,
    machine_ticks,
    rig_ticks,
    rss_mib,
    udp_received,
)
from rtp_media import tone, write_pcap  # noqa: E402

CUSTOMER_TONE_HZ = 1000.0
BROWSER_DNS_FROM = 5001
PHONE_DNS_FROM = 7001


@dataclass
class Step:
    calls: int  # SIP phone calls
    browsers: int
    answered: int = 0  # calls whose INVITE got a 200 OK (sipp's message trace): the SIP truth
    right: int = 0  # calls the bridge showed as the SIP truth says (see judge)
    joined: int = 0  # calls joined to their CallUUID, both sides, in sync, established
    rang: int = 0
    removed: int = 0
    misses: list[str] = field(default_factory=list)
    bridge_cpu: float = 0.0  # % of one core over the window
    bridge_rss_mib: float = 0.0
    asterisk_cpu: float = 0.0
    asterisk_rss_mib: float = 0.0
    machine_cpu: float = 0.0  # % of all cores (every process on the machine)
    harness_cpu: float = 0.0  # % of one core: this process (widget clients, browsers' driver) + Genesys
    load_average: float = 0.0  # the machine's 1-minute load average at the window's end
    udp_pps: float = 0.0  # UDP datagrams received a second in the window (RTP, SIP: every hop)
    rtp_drops: int = 0  # datagrams dropped at Asterisk's RTP sockets of the step's calls
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds by program, ramp and window
    ami_eps: float = 0.0  # AMI events a second over the window (calls up)
    ami_eps_peak: float = 0.0  # the busiest second of the step (ramp up or down)
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    deltas: int = 0
    rtp_loss_pct: float = 0.0  # browsers, inbound: lost / expected over the call
    rtp_jitter_ms: float = 0.0  # browsers, inbound: the largest
    browser_audio: int = 0  # browsers whose inbound audio carried energy
    sipp_rc: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.calls + self.browsers

    @property
    def complete(self) -> bool:
        return self.right == self.total and not self.misses


def events_at(rows: Sequence[tuple[float, int]], t: float) -> int:
    """AMI events read by time ``t`` (the last per-second row at or before it)."""
    return max((n for at, n in rows if at <= t), default=0)


# ---------------------------------------------------------------------- browsers
BROWSER_STATS = """async () => {
  const out = [];
  for (const s of window.ctibridge.phone.sessions.values()) {
    const pc = s.session.sessionDescriptionHandler?.peerConnection;
    if (!pc) continue;
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") out.push({
        received: r.packetsReceived ?? 0, lost: r.packetsLost ?? 0, jitter: r.jitter ?? 0,
        energy: r.totalAudioEnergy ?? 0, level: r.audioLevel ?? 0});
    });
  }
  return out;
}"""


async def browser_stats(pages: Sequence[Any]) -> list[dict[str, float]]:
    found: list[dict[str, float]] = []
    for page in pages:
        found += await page.evaluate(BROWSER_STATS)
    return found


# ---------------------------------------------------------------------- one step
def _uuid(step: int, n: int) -> str:
    return f"LOAD{step:04d}{n:05d}".ljust(32, "0")


def judge(step: Step, rig_: Rig, truth: dict[str, str], answered: set[str]) -> None:
    """Each call as its DN's widget saw it, against the SIP side's truth: the DN and CallUUID sipp
    used and whether its INVITE was answered. An answered call must be joined (one call, both
    sides, in sync, established) after ringing; one never answered must ring and never show as
    established; both must be gone at the end."""
    step.answered = len(answered & set(truth.values()))
    for dn, uuid in truth.items():
        widget = rig_.widgets[dn]
        seen = widget.seen.get(uuid, set())
        joined = any(state == "established" and sync == "ok" and both for state, sync, both in seen)
        rang = any(state == "ringing" for state, _, _ in seen)
        shown_up = any(state == "established" for state, _, _ in seen)
        step.joined += joined
        step.rang += rang
        step.removed += uuid in widget.removed
        right = rang and uuid in widget.removed and (joined if uuid in answered else not shown_up)
        step.right += right
        if not right:
            step.misses.append(f"{dn} {uuid} answered {uuid in answered}: seen {sorted(seen)}, "
                               f"removed {uuid in widget.removed}")
        step.misses += widget.problems
        # "" is a call's first moments, before the dialplan has read its CallUUID
        foreign = set(widget.seen) - {uuid, ""}
        if foreign or widget.live:
            step.misses.append(f"{dn}: calls the truth does not have: {sorted(foreign)}, left {widget.live}")


def established(rig_: Rig, truth: dict[str, str]) -> int:
    return sum(any(s == "established" and both for s, _, both in rig_.widgets[dn].seen.get(uuid, ()))
               for dn, uuid in truth.items())


async def until(predicate: Any, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def run_step(rig_: Rig, number: int, calls: int, phone_dns: list[str], pages: Sequence[Any],
                   browser_dns: list[str], rate: float, window_s: float) -> Step:
    step = Step(calls, len(browser_dns))
    for widget in rig_.widgets.values():
        widget.seen.clear()
        widget.removed.clear()
        widget.latencies.clear()
        widget.problems.clear()
    phone_truth = {dn: _uuid(number, n) for n, dn in enumerate(phone_dns[:calls])}
    browser_truth = {dn: _uuid(number, 90000 + n) for n, dn in enumerate(browser_dns)}
    truth = {**phone_truth, **browser_truth}
    ramp_s = calls / rate
    hold_ms = int((ramp_s + 20 + window_s) * 1000)
    started = time.monotonic()
    names = {rig_.bridge.pid: "bridge", rig_.genesys.pid: "genesys"}
    ticks_at_start = rig_ticks(names)
    sipp_names = [f"step{number}"]
    sipps = [await customer_calls(rig_.workdir, list(phone_truth.items()), hold_ms, rate, sipp_names[0],
                                  5200, CUSTOMER_MEDIA_PORT)]
    if browser_truth:
        sipp_names.append(f"step{number}-browsers")
        sipps.append(await customer_calls(rig_.workdir, list(browser_truth.items()), hold_ms, 5,
                                          sipp_names[1], 5202, CUSTOMER_MEDIA_PORT + 10))
    all_up = await until(lambda: established(rig_, truth) == len(truth), ramp_s + 20)
    if not all_up:
        step.misses.append(f"only {established(rig_, truth)} of {len(truth)} calls established in time")
    assert rig_.sandbox.process is not None
    pids = {"bridge": rig_.bridge.pid, "asterisk": rig_.sandbox.process.pid,
            "harness": os.getpid(), "genesys": rig_.genesys.pid}
    ticks = {name: cpu_ticks(pid) for name, pid in pids.items()}
    busy0, total0 = machine_ticks()
    udp0 = udp_received()
    t0 = time.monotonic()
    rss: dict[str, list[float]] = {name: [] for name in pids}
    while time.monotonic() - t0 < window_s:
        for name, pid in pids.items():
            rss[name].append(rss_mib(pid))
        await asyncio.sleep(1.0)
    elapsed = time.monotonic() - t0
    cpu = {name: 100 * (cpu_ticks(pid) - ticks[name]) / TICKS / elapsed for name, pid in pids.items()}
    step.bridge_cpu, step.asterisk_cpu = cpu["bridge"], cpu["asterisk"]
    step.harness_cpu = cpu["harness"] + cpu["genesys"]
    step.load_average = load_average()
    busy1, total1 = machine_ticks()
    step.machine_cpu = 100 * (busy1 - busy0) / max(1, total1 - total0)
    step.bridge_rss_mib, step.asterisk_rss_mib = max(rss["bridge"]), max(rss["asterisk"])
    step.udp_pps = (udp_received() - udp0) / elapsed
    step.rtp_drops = asterisk_rtp_drops()
    used = rig_ticks(names)
    step.cpu_s = {name: (used[name] - ticks_at_start.get(name, 0)) / TICKS for name in sorted(used)}
    step.ami_eps = (events_at(rig_.ami_events(), t0 + elapsed) - events_at(rig_.ami_events(), t0)) / elapsed
    inbound = await browser_stats(pages)
    expected = sum(s["received"] + s["lost"] for s in inbound)
    step.rtp_loss_pct = 100 * sum(s["lost"] for s in inbound) / expected if expected else 0.0
    step.rtp_jitter_ms = 1000 * max((s["jitter"] for s in inbound), default=0.0)
    step.browser_audio = sum(s["energy"] > 0 for s in inbound)
    for process in sipps:
        try:
            await asyncio.wait_for(process.wait(), hold_ms / 1000 + ramp_s + 60)
        except TimeoutError:
            await stop(process)
        step.sipp_rc.append(process.returncode if process.returncode is not None else -1)
    await until(lambda: all(uuid in rig_.widgets[dn].removed for dn, uuid in truth.items()), 30)
    step.seconds = time.monotonic() - started
    rows = [(t, n) for t, n in rig_.ami_events() if t >= started - 1]
    step.ami_eps_peak = max(((n1 - n0) / (t1 - t0) for (t0, n0), (t1, n1) in itertools.pairwise(rows)),
                            default=0.0)
    latencies = sorted(x for dn in truth for x in rig_.widgets[dn].latencies)
    step.deltas = len(latencies)
    if latencies:
        step.latency_p50_ms = 1000 * statistics.median(latencies)
        step.latency_p99_ms = 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    answered = set().union(*(answered_uuids(rig_.workdir / f"{name}-messages.log") for name in sipp_names))
    judge(step, rig_, truth, answered)
    return step


# ---------------------------------------------------------------------- the run
async def load(steps: Sequence[int], browsers: int, rate: float, window_s: float, workdir: Path,
               chromium_args: Sequence[str] = ()) -> list[Step]:
    from playwright.async_api import async_playwright
    from widget.conftest import CHROMIUM, CHROMIUM_ARGS

    phone_dns = [str(PHONE_DNS_FROM + n) for n in range(max(steps))]
    browser_dns = [str(BROWSER_DNS_FROM + n) for n in range(browsers)]
    longest_s = max(steps) / rate + 20 + window_s + 5
    write_pcap(workdir / "customer.pcap", tone(CUSTOMER_TONE_HZ, longest_s))
    results = []
    async with rig(workdir, phone_dns, browser_dns) as rig_, async_playwright() as pw:
        phones = await sip_phones(workdir)
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *chromium_args])
        try:
            pages = []
            for dn in browser_dns:
                page = await (await browser.new_context()).new_page()
                await rig_.open_widget(page, dn, autoAnswer="1")
                pages.append(page)
            for page in pages:
                status = page.locator("#phone-status")
                async with asyncio.timeout(30):
                    while await status.get_attribute("data-status") != "registered":  # noqa: ASYNC110
                        await asyncio.sleep(0.2)
            for number, calls in enumerate(steps, 1):
                step = await run_step(rig_, number, calls, phone_dns, pages, browser_dns, rate, window_s)
                print(f"# step {calls}+{browsers}: {'complete' if step.complete else 'INCOMPLETE'} "
                      f"in {step.seconds:.0f}s", file=sys.stderr, flush=True)
                results.append(step)
        finally:
            await browser.close()
            await stop(phones)
    return results


COLUMNS = ("calls", "answered (SIP)", "bridge right", "bridge CPU %", "bridge RSS MiB", "Asterisk CPU %",
           "Asterisk RSS MiB", "harness CPU %", "machine CPU %", "load avg", "UDP pkt/s", "RTP drops",
           "AMI ev/s", "AMI ev/s peak", "event->widget p50 ms", "p99 ms", "browser RTP loss %", "jitter ms")


def table(steps: Sequence[Step]) -> str:
    rows = [COLUMNS] + [(
        f"{s.calls}+{s.browsers}", f"{s.answered}/{s.total}", f"{s.right}/{s.total}",
        f"{s.bridge_cpu:.0f}", f"{s.bridge_rss_mib:.0f}", f"{s.asterisk_cpu:.0f}",
        f"{s.asterisk_rss_mib:.0f}", f"{s.harness_cpu:.0f}", f"{s.machine_cpu:.0f}",
        f"{s.load_average:.0f}", f"{s.udp_pps:.0f}", str(s.rtp_drops), f"{s.ami_eps:.0f}",
        f"{s.ami_eps_peak:.0f}", f"{s.latency_p50_ms:.1f}", f"{s.latency_p99_ms:.0f}",
        f"{s.rtp_loss_pct:.2f}", f"{s.rtp_jitter_ms:.1f}") for s in steps]
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(COLUMNS))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="10,50,100,200,300", help="concurrent SIP phone calls per step")
    parser.add_argument("--browsers", type=int, default=10, help="WebRTC agents (Chromium), a call each step")
    parser.add_argument("--rate", type=float, default=20.0, help="new calls a second")
    parser.add_argument("--window-s", type=float, default=15.0, help="measuring window with every call up")
    parser.add_argument("--json", type=Path, help="write the figures here (for bench/load_plot.py)")
    args = parser.parse_args()
    from conftest import _enter_private_network_namespace
    _enter_private_network_namespace()
    steps = [int(s) for s in args.steps.split(",")]
    with tempfile.TemporaryDirectory(prefix="ctibridge-load-") as tmp:
        results = asyncio.run(load(steps, args.browsers, args.rate, args.window_s, Path(tmp)))
    print(table(results))
    for step in results:
        print(f"# {step.calls}+{step.browsers}: CPU seconds over ramp and window: "
              + ", ".join(f"{name} {seconds:.1f}" for name, seconds in step.cpu_s.items()))
    for step in results:
        for miss in step.misses[:5]:
            print(f"# {step.calls}: {miss}")
    if args.json:
        args.json.write_text(json.dumps([{**asdict(s), "misses": s.misses[:20]} for s in results], indent=1))
    return 0 if all(s.complete for s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
