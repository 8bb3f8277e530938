"""Latency under load: the real service in its own process, the load on loopback in this one.

This process runs the AMI simulator (``ctibridge.sim.ami.AmiSimulator``, the recorded Asterisk 22
sequences) and the widget clients (real aiohttp WebSocket clients, one per DN, each with its own
token); ``latency_bridge.py`` runs the bridge (``ctibridge.service.assemble.build`` + ``create_app``).
Calls: 500 are started quickly, then one new call every 0.1 s (10/s) while one ends every 0.1 s,
so 500 stay live; each rings, is answered after 1 s and is hung up by Genesys at its end.

Measured for every delta, against ``delta.t`` (the wall time the bridge's AMI adapter read the
event's bytes; both processes share the machine's clock):

* ``publish``: until the pipeline hands the delta to the hub (store append done; the hub only
  queues the frame for each client's writer task), noted inside the bridge;
* ``client``: until a widget client has read and decoded the frame.

Only the steady window counts (after the ramp, all calls live). Spread: per-5-second windows.
GWS is not part of this load (no per-agent CometD sessions): the bridge runs with AMI only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import Row, Target, percentile, row
from ctibridge.identity.hmac_token import mint
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws.calls import new_call_uuid
from tools.local_services import free_port, redis_server, wait_for_port

ROOT = Path(__file__).resolve().parents[1]  # python -m bench.latency_bridge runs from here
ORIGIN = "http://bench.invalid"
SECRET = "bench-token-secret-0123456789"
FIRST_DN = 10000


@dataclass(frozen=True, slots=True)
class Load:
    clients: int = 2000
    calls: int = 500
    rate: float = 10.0  # new calls per second once the ramp is over
    ramp_rate: float = 50.0
    answer_after: float = 1.0
    measure_s: float = 30.0
    settle_s: float = 5.0  # after the ramp, before measuring

    @property
    def ramp_s(self) -> float:
        return self.calls / self.ramp_rate


FULL = Load()
QUICK = Load(clients=20, calls=10, rate=5.0, ramp_rate=40.0, measure_s=1.0, settle_s=0.3)


@dataclass(slots=True)
class Received:
    samples: list[tuple[float, float]] = field(default_factory=list)  # (read time, latency)
    snapshots: int = 0
    closed: int = 0


async def _client(session: aiohttp.ClientSession, url: str, dn: str, got: Received,
                  ready: asyncio.Semaphore, stop: asyncio.Event) -> None:
    token = mint(SECRET.encode(), f"agent{dn}", [dn], 3600, time.time())
    async with session.ws_connect(url, headers={"Origin": ORIGIN}, heartbeat=None) as ws:
        credential = {"kind": "hmac", "token": token}
        await ws.send_str(json.dumps({"type": "hello", "dn": dn, "credential": credential}))
        ready.release()
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            data = json.loads(msg.data)
            kind = data.get("type")
            if kind == "delta":
                got.samples.append((now, now - float(data["t"])))
            elif kind == "snapshot":
                got.snapshots += 1
            if stop.is_set():
                break
    got.closed += 1


class CallDriver:
    """500 live calls: a quick ramp, then one ends and one starts every 1/rate seconds."""

    def __init__(self, sim: AmiSimulator, load: Load) -> None:
        self.sim, self.load = sim, load
        self.started = 0
        self.errors = 0
        self._handles: list[asyncio.TimerHandle] = []

    def schedule(self, total_s: float) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        load = self.load
        n, start = 0, 0.0
        while start < total_s:
            if n < load.calls:
                start = n / load.ramp_rate
                end = load.ramp_s + load.settle_s + n / load.rate  # ramp calls end one by one
            else:
                start = load.ramp_s + load.settle_s + (n - load.calls) / load.rate
                end = start + load.calls / load.rate
            dn = str(FIRST_DN + n % load.clients)
            self._handles.append(loop.call_at(now + start, self._ring, dn, end - start))
            n += 1

    def _ring(self, dn: str, duration: float) -> None:
        pbx = self.sim.pbx
        try:
            uuid = new_call_uuid()
            trunk, agent = pbx.inbound_ring(dn, "+15550001000", "Bench Caller", uuid, f"{uuid}@bench")
        except Exception:  # a DN still busy from a late call: count it, the load goes on
            self.errors += 1
            return
        self.started += 1
        loop = asyncio.get_running_loop()
        self._handles.append(loop.call_later(self.load.answer_after, self._guard, pbx.answer, agent))
        self._handles.append(loop.call_later(duration, self._guard, pbx.hangup, trunk))

    def _guard(self, step: Any, *args: Any) -> None:
        try:
            step(*args)
        except Exception:
            self.errors += 1

    def cancel(self) -> None:
        for handle in self._handles:
            handle.cancel()


async def _wait_ready(http_port: int, deadline_s: float = 20.0) -> None:
    url = f"http://127.0.0.1:{http_port}/readyz"
    auth = {"Authorization": f"Bearer {mint(SECRET.encode(), 'bench', ['5001'], 3600, time.time())}"}
    end = time.monotonic() + deadline_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < end:
            try:
                async with session.get(url, headers=auth) as resp:
                    body = await resp.json()
                    if body.get("ami", {}).get("ready"):
                        return
            except (aiohttp.ClientError, json.JSONDecodeError):
                pass
            await asyncio.sleep(0.1)  # polling the bridge's health, with a deadline
    raise TimeoutError("the bridge did not log in to the AMI simulator")


@dataclass(slots=True)
class BridgeRun:
    """A bridge process on loopback with the AMI simulator it is connected to."""

    sim: AmiSimulator
    http_port: int
    inside: dict[str, Any] = field(default_factory=dict)  # the bridge's own samples, after exit

    @property
    def ws_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/ws"


@dataclass(frozen=True, slots=True)
class AmiTarget:
    """An AMI server the bridge logs in to (default: an AMI simulator started for the run)."""

    port: int
    username: str
    secret: str


@contextlib.asynccontextmanager
async def bridge_process(dns: int, redis_url: str = "", profile: str = "", *,
                         ami: AmiTarget | None = None, first_dn: int = FIRST_DN,
                         event_log: str = "") -> AsyncIterator[BridgeRun]:
    """Start the AMI simulator (unless ``ami`` is given) and the bridge (``dns`` DNs from
    ``first_dn``), wait until it is logged in and resynchronised; on exit stop both and read the
    bridge's samples."""
    sim = AmiSimulator(username="ctibridge", secret="ctibridge-sim",
                       agent_dns=frozenset(str(first_dn + i) for i in range(dns)))
    if ami is None:
        ami = AmiTarget(await sim.start(), sim.username, sim.secret)
    run = BridgeRun(sim, free_port())
    out = tempfile.NamedTemporaryFile(prefix="ctibridge-bench-", suffix=".json", delete=False)
    out.close()
    cmd = [sys.executable, "-m", "bench.latency_bridge",
           "--ami-port", str(ami.port), "--ami-user", ami.username, "--ami-secret", ami.secret,
           "--http-port", str(run.http_port),
           "--dns", f"{first_dn}-{first_dn + dns - 1}", "--secret", SECRET, "--out", out.name]
    if redis_url:
        cmd += ["--redis", redis_url]
    if profile:
        cmd += ["--profile", profile]
    if event_log:
        cmd += ["--event-log", event_log]
    bridge = subprocess.Popen(cmd, cwd=ROOT)  # noqa: ASYNC220
    try:
        await asyncio.to_thread(wait_for_port, run.http_port, 20.0)
        await _wait_ready(run.http_port)
        yield run
    finally:
        bridge.terminate()
        try:
            await asyncio.to_thread(bridge.wait, 30)
        except subprocess.TimeoutExpired:
            bridge.kill()
            await asyncio.to_thread(bridge.wait, 5)
        await sim.stop()
        text = await asyncio.to_thread(Path(out.name).read_text)
        os.unlink(out.name)
        run.inside = json.loads(text or "{}")


async def drive(load: Load, redis_url: str = "", profile: str = "") -> dict[str, Any]:
    got = Received()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    async with bridge_process(load.clients, redis_url, profile) as run:
        driver = CallDriver(run.sim, load)
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                ready = asyncio.Semaphore(0)
                for i in range(load.clients):
                    tasks.append(asyncio.create_task(
                        _client(session, run.ws_url, str(FIRST_DN + i), got, ready, stop)))
                    if i % 100 == 99:
                        await asyncio.sleep(0)  # let the connects proceed in batches
                async with asyncio.timeout(60):
                    for _ in range(load.clients):
                        await ready.acquire()
                start = time.time() + load.ramp_s + load.settle_s
                window = (start, start + load.measure_s)
                driver.schedule(load.ramp_s + load.settle_s + load.measure_s + 1.0)
                await asyncio.sleep(window[1] - time.time() + 0.5)  # the load runs for its set time
                stop.set()
        finally:
            driver.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {"window": window, "client": got.samples, "published": run.inside.get("published", []),
            "cpu": run.inside.get("cpu", []), "calls_started": driver.started, "errors": driver.errors,
            "snapshots": got.snapshots}


def _windows(samples: list[tuple[float, float]], window: tuple[float, float], parts: int,
             p: float) -> list[float]:
    """The p-th percentile of the latencies (ms) in each of ``parts`` slices of the window."""
    width = (window[1] - window[0]) / parts
    out = []
    for i in range(parts):
        lo, hi = window[0] + i * width, window[0] + (i + 1) * width
        values = sorted(lat * 1000 for t, lat in samples if lo <= t < hi)
        if values:
            out.append(percentile(values, p))
    return out


def _cpu_share(cpu: list[tuple[float, float]], window: tuple[float, float]) -> float:
    """CPU % between the bridge's last note before the window and its first note after it."""
    before = [s for s in cpu if s[0] <= window[0]] or cpu[:1]
    after = [s for s in cpu if s[0] >= window[1]] or cpu[-1:]
    if not before or not after or after[0][0] <= before[-1][0]:
        return float("nan")
    (w0, c0), (w1, c1) = before[-1], after[0]
    return 100 * (c1 - c0) / (w1 - w0)


def _rows(mode: str, result: dict[str, Any], load: Load, p99: Target, p50: Target) -> list[Row]:
    window, parts = result["window"], 6 if load.measure_s >= 6 else 1
    rows = []
    for where, samples in (("publish", result["published"]), ("client", result["client"])):
        in_window = [s for s in samples if window[0] <= s[0] < window[1]]
        if not in_window:
            raise RuntimeError(f"{mode}: no {where} samples in the window")
        rows.append(row(f"latency.{mode}.{where}_p50", f"read -> {where}, p50", "ms",
                        _windows(in_window, window, parts, 50), p50))
        rows.append(row(f"latency.{mode}.{where}_p99", f"read -> {where}, p99", "ms",
                        _windows(in_window, window, parts, 99), p99,
                        note=f"{len(in_window)} deltas; max {max(s[1] for s in in_window) * 1000:.1f} ms"))
    rows.append(row(f"latency.{mode}.bridge_cpu", "bridge process CPU in the window", "%",
                    [_cpu_share(result["cpu"], window)],
                    note=f"{load.calls} live calls, {load.rate}/s new, {load.clients} clients; "
                         f"{result['calls_started']} calls started, {result['errors']} driver errors"))
    return rows


def run(quick: bool = False) -> list[Row]:
    """In memory and in Redis mode; Redis judged against memory."""
    load = QUICK if quick else FULL
    memory = _rows("memory", asyncio.run(drive(load)), load,
                   Target("<=", 5.0, "< 5 ms"), Target("<=", 1.0, "< 1 ms"))
    p50, p99 = (statistics.median(memory[i].samples) for i in (0, 1))
    with redis_server() as url:
        redis = asyncio.run(drive(load, url))
    return memory + _rows("redis", redis, load,
                          Target("<=", 2 * p99, f"< 2x memory ({2 * p99:.3g})"),
                          Target("<=", 2 * p50, f"< 2x memory ({2 * p50:.3g})"))
