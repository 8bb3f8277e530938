"""Soak: many concurrent calls and widget clients through both simulators, faults on a schedule.

    python -m bench.soak [--calls 300] [--clients 1000] [--minutes 10] [--speed 2] [--seed 1]

One process: the GWS simulator and the AMI simulator (``ctibridge/sim``) driven by the scenario
runner, the real service (``ctibridge.service.assemble.build`` + ``create_app``, memory store), and
``--clients`` real WebSocket widget clients spread over the ``--calls`` agent DNs. The run is a
series of rounds; in each round every DN gets one call (offered, answered, held and retrieved in
WWE or through the gateway, hung up), so ``--calls`` calls are live at once. Faults on a schedule
(round number modulo 5): AMI connection cut mid-call, GWS Bayeux clients dropped (402), GWS
restarted (sessions gone), Asterisk restarted mid-call (the calls die on the gateway); in every
round a tenth of the widgets disconnect at random and resume with ``since``. After each round the
bridge must come back to quiet (no call left, every widget caught up) and memory is measured
(tracemalloc: all Python memory of the process, simulators included). The last round leaves
every call up; the bridge's state is then compared with the ground truth (the scenario's CallUUID
and state per DN) and with what a fresh correlator computes from a resync alone (a new AMI login's
CoreShowChannels and a new GWS login's REST re-read). Bounded: ``--rounds`` or ``--minutes``.

The test suite runs a short form (``tests/reliability/test_soak.py``); this prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.config import Settings
from ctibridge.core.ami_parse import parse_ami
from ctibridge.core.correlator import Correlator
from ctibridge.core.events import AmiLink, GwsLink, InboundEvent
from ctibridge.core.gws_parse import parse_gws
from ctibridge.gws import GwsAgent, GwsAgents, GwsSettings
from ctibridge.identity.hmac_token import mint
from ctibridge.service.assemble import build, correlator_settings
from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import Advice, GwsSimulator, SimAgent
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import Scenario, parse_scenario
from ctibridge.store import MemoryStore
from ctibridge.web.app import create_app

ORIGIN = "http://soak.invalid"
TOKEN_SECRET = "soak-token-secret-0123456789abcdef"
FAULTS = {1: "ami_disconnect", 2: "drop_gws_sessions", 3: "restart_gws", 4: "ami_restart"}
FAULT_AT = 2.5  # seconds into a round: calls are answered and held
QUIET_S = 60.0  # deadline for the bridge to settle after a round (--quiet-s)
LOG_LENGTH = 24  # per-DN delta log kept for resumes (small, so it is full after the first rounds)


@dataclass
class Options:
    calls: int = 30
    clients: int = 100
    rounds: int = 10
    minutes: float = 0.0  # > 0: run rounds until this much time has passed (at least 6 rounds)
    speed: float = 2.0
    seed: int = 1
    reconnect_share: float = 0.1
    verbose: bool = False
    quiet_s: float = QUIET_S


@dataclass
class Client:
    """One widget: checks every frame against the protocol's promise as it arrives."""

    dn: str
    token: str
    epoch: str = ""
    last: int | None = None
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: dict[str, set[tuple[str, str, bool]]] = field(default_factory=dict)  # uuid -> (state, sync, both)
    removed: set[str] = field(default_factory=set)  # CallUUIDs seen removed
    deltas: int = 0
    snapshots: int = 0
    resumes: int = 0
    problems: list[str] = field(default_factory=list)
    ws: aiohttp.ClientWebSocketResponse | None = None
    reader: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def hello(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "hello", "dn": self.dn,
                               "credential": {"kind": "hmac", "token": self.token}}
        if self.last is not None:
            msg["since"] = {"epoch": self.epoch, "seq": self.last}
        return msg

    def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "snapshot":
            self.snapshots += 1
            self.epoch, self.last = frame["epoch"], frame["seq"]
            self.calls = {c["id"]: c for c in frame["calls"]}
            for call in frame["calls"]:
                self._note(call)
            self.ready.set()
        elif kind == "resume":
            self.resumes += 1
            if self.last is None or frame["from_seq"] != self.last + 1 or frame["epoch"] != self.epoch:
                self.problems.append(f"{self.dn}: resume {frame} after seq {self.last}")
            self.ready.set()
        elif kind == "delta":
            self.deltas += 1
            if self.last is None or frame["seq"] != self.last + 1:
                what = "duplicate" if self.last is not None and frame["seq"] <= self.last else "gap"
                self.problems.append(f"{self.dn}: {what}: seq {frame['seq']} after {self.last}")
            self.last = frame["seq"]
            call = frame["call"]
            if frame["op"] == "removed":
                self.calls.pop(call["id"], None)
                if call.get("call_uuid"):
                    self.removed.add(call["call_uuid"])
            else:
                self.calls[call["id"]] = call
                self._note(call)
        elif kind == "error":
            self.problems.append(f"{self.dn}: error frame {frame}")

    def _note(self, call: dict[str, Any]) -> None:
        uuid = call.get("call_uuid")
        if uuid:
            both = bool(call.get("genesys")) and bool(call.get("asterisk"))
            self.seen.setdefault(uuid, set()).add((call["state"], call["sync"]["status"], both))


@dataclass
class Report:
    rounds: int = 0
    calls_played: int = 0
    clients: int = 0
    calls_per_round: int = 0
    sip_hold_unseen: int = 0  # see compare_with_resync
    deltas_received: int = 0
    widget_reconnects: int = 0
    snapshots: int = 0
    resumes: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # protocol: gaps, duplicates, bad resumes
    truth_misses: list[str] = field(default_factory=list)  # ground-truth calls not seen as expected
    resync_diff: list[str] = field(default_factory=list)
    fold_diff: list[str] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)  # traced (or RSS) bytes after each round
    rss: list[int] = field(default_factory=list)
    step_errors: int = 0
    seconds: float = 0.0
    settle_s: float = 0.0  # the longest time the bridge took to settle after a round

    @property
    def growth_per_call(self) -> float:
        """Bytes gained per call played: the least-squares slope of memory over the rounds (round 1,
        which fills the bounded logs, left out), divided by the calls of a round."""
        memory = self.memory[1:]
        n = len(memory)
        if n < 2:
            return 0.0
        mean_x, mean_y = (n - 1) / 2, sum(memory) / n
        slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(memory)) / sum(
            (x - mean_x) ** 2 for x in range(n))
        return slope / max(1, self.calls_per_round)

    def lines(self) -> list[str]:
        mib = [f"{m / 2**20:.1f}" for m in self.memory]
        return [
            f"rounds {self.rounds}, calls {self.calls_played}, widgets {self.clients}, {self.seconds:.0f}s",
            f"faults {self.faults}, scenario steps that no longer applied {self.step_errors}",
            f"deltas received {self.deltas_received}, widget reconnects {self.widget_reconnects} "
            f"(resumed {self.resumes}, snapshots {self.snapshots})",
            f"gaps/duplicates/bad resumes {len(self.problems)}, "
            f"ground-truth misses {len(self.truth_misses)}, "
            f"resync differences {len(self.resync_diff)}, widget view differences {len(self.fold_diff)}",
            f"calls held by a SIP re-INVITE that a resync alone cannot see as held: {self.sip_hold_unseen}",
            f"memory MiB per round (tracemalloc; RSS with --no-trace) {mib}; "
            f"growth {self.growth_per_call:.0f} B per call; longest settling {self.settle_s:.1f}s",
            f"RSS MiB first/last round {self.rss[0] / 2**20:.0f}/{self.rss[-1] / 2**20:.0f}"
            if self.rss else "",
        ]


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return 0


def round_scenario(r: int, dns: list[str], *, last: bool) -> Scenario:
    """Every DN gets one call; the last round leaves them up (held or established)."""
    steps: list[dict[str, Any]] = []
    for i, dn in enumerate(dns):
        o = (i % 10) * 0.1
        side = "genesys" if i % 2 else "asterisk"
        steps += [
            {"at": o, "kind": "inbound_call", "call": f"c{i}", "dn": dn,
             "caller": f"+1555{r % 1000:03d}{i:04d}"},
            {"at": o + 1.0, "kind": "answer", "call": f"c{i}"},
            {"at": o + 2.0, "kind": "hold", "call": f"c{i}", "side": side},
        ]
        if not last or i % 3:
            steps.append({"at": o + 3.0, "kind": "retrieve", "call": f"c{i}", "side": side})
        if not last:
            steps.append({"at": o + 4.0, "kind": "hangup", "call": f"c{i}"})
    fault = None if last else FAULTS.get(r % 5)
    if fault:
        steps.append({"at": FAULT_AT, "kind": fault})
    steps.sort(key=lambda s: s["at"])
    return parse_scenario({"name": f"soak_r{r}", "dns": dns[:1], "tail": 1.5, "steps": steps})


def expected_last_state(i: int) -> str:
    return "established" if i % 3 else "held"


class Soak:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.rng = random.Random(options.seed)
        self.dns = [str(60000 + n) for n in range(options.calls)]
        self.report = Report(clients=options.clients, calls_per_round=options.calls)
        self.clients: list[Client] = []
        self.by_dn: dict[str, list[Client]] = {}

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        agents = [SimAgent(f"a{dn}", f"pw-{dn}-soak", dn) for dn in self.dns]
        self.gws = GwsSimulator(agents, advice=Advice(timeout_ms=3000, interval_ms=0))
        await self.gws.start()
        self.ami = AmiSimulator(agent_dns=frozenset(self.dns))
        ami_port = await self.ami.start()
        self.runner = ScenarioRunner(self.gws, self.ami, speed=self.o.speed)
        self.settings = Settings.model_validate(dict(
            listen={"host": "127.0.0.1", "port": 0},
            ami={"host": "127.0.0.1", "port": ami_port, "username": self.ami.username,
                 "secret": self.ami.secret, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
                 "ping_interval_s": 2.0},
            gws={"base_url": self.gws.base_url, "agents": [
                {"agent_id": a.username, "username": a.username, "password": a.password, "dn": a.dn}
                for a in agents]},
            gateway={"dns": self.dns},
            correlation={"grace_period_s": 1.0},
            auth={"token_secret": TOKEN_SECRET, "allowed_origins": [ORIGIN],
                  "rate_limit": {"per_second": 10_000, "burst": 10_000}},
            # The timeline index holds the last timeline_calls calls by design (tests/ops proves the
            # bound); a small bound lets it fill in round 1, so the slope shows leaks, not the index.
            log={"level": "WARNING", "timeline_calls": 10},
        ))
        self.components = build(self.settings, store=MemoryStore(log_length=LOG_LENGTH))
        app = create_app(self.settings, components=self.components, widget_dir=None)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/ws"
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        try:
            await self._until(lambda: self.components.pipeline.links.get("ami") == "connected"
                              and all(self.gws.subscribed(dn) for dn in self.dns), 60, "bridge ready")
            yield
        finally:
            for client in self.clients:
                if client.reader:
                    client.reader.cancel()
                if client.ws:
                    await client.ws.close()
            await self.http.close()
            await runner.cleanup()
            await self.ami.stop()
            await self.gws.stop()

    async def _until(self, predicate: Any, within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {within}s: {what}")
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ widgets

    async def connect(self, client: Client) -> None:
        client.ready.clear()
        client.ws = await self.http.ws_connect(self.url, headers={"Origin": ORIGIN}, max_msg_size=0)
        await client.ws.send_str(json.dumps(client.hello()))
        client.reader = asyncio.create_task(self._read(client, client.ws))
        async with asyncio.timeout(QUIET_S):
            await client.ready.wait()

    async def _read(self, client: Client, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                client.on_frame(json.loads(msg.data))
        if ws is client.ws and ws.close_code not in (1000, None):
            client.problems.append(f"{client.dn}: closed by the bridge {ws.close_code}")

    async def reconnect(self, client: Client) -> None:
        ws, client.ws = client.ws, None
        if ws is not None:
            await ws.close()
        if client.reader:
            await client.reader
        self.report.widget_reconnects += 1
        await self.connect(client)

    async def _churn(self, duration: float) -> None:
        """A share of the widgets drop at random moments of the round and resume."""
        loop = asyncio.get_running_loop()
        chosen = self.rng.sample(self.clients, max(1, int(len(self.clients) * self.o.reconnect_share)))
        start = loop.time()

        async def one(client: Client) -> None:
            await asyncio.sleep(max(0.0, start + self.rng.uniform(0, duration) - loop.time()))
            await self.reconnect(client)

        await asyncio.gather(*(one(c) for c in chosen))

    # ------------------------------------------------------------------ rounds

    def not_quiet(self, expect_calls: int) -> str:
        """Why the bridge has not settled yet ("" once it has)."""
        store = self.components.store
        assert isinstance(store, MemoryStore)
        calls = self.components.pipeline.correlator.calls()
        if len(calls) != expect_calls:
            sample = [(c["id"], c["state"], c["sync"]["status"], bool(c.get("genesys")),
                       bool(c.get("asterisk"))) for c in calls[:3]]
            return f"{len(calls)} calls in the bridge, {expect_calls} expected, e.g. {sample}; links " \
                   f"{sorted(v for k, v in self.components.pipeline.links.items() if v != 'connected')[:5]}"
        behind = [c for c in self.clients
                  if c.ws is None or c.last != (store.dns[c.dn].seq if c.dn in store.dns else 0)]
        if behind:
            return f"{len(behind)} widgets behind, e.g. {behind[0].dn} at {behind[0].last}"
        return ""

    async def play_round(self, r: int, last: bool) -> None:
        scenario = round_scenario(r, self.dns, last=last)
        fault = None if last else FAULTS.get(r % 5)
        if fault:
            self.report.faults[fault] = self.report.faults.get(fault, 0) + 1
        duration = scenario.duration / self.o.speed
        t0 = time.monotonic()
        await asyncio.gather(self.runner.play(scenario), self._churn(duration * 0.9))
        t1 = time.monotonic()
        self.report.rounds += 1
        self.report.calls_played += len(self.dns)
        expect = len(self.dns) if last else 0
        try:
            await self._until(lambda: not self.not_quiet(expect), self.o.quiet_s, f"round {r} quiet")
        except AssertionError:
            self.report.truth_misses.append(f"round {r}: not quiet after {self.o.quiet_s}s: "
                                            f"{self.not_quiet(expect)}")
            raise
        self.report.settle_s = max(self.report.settle_s, time.monotonic() - t1)
        if self.o.verbose:
            print(f"# round {r} ({fault}): played {t1 - t0:.1f}s, quiet after {time.monotonic() - t1:.1f}s",
                  file=sys.stderr, flush=True)
        self.check_truth(r, fault, last)
        for client in self.clients:  # the harness keeps nothing per finished call
            client.seen.clear()
            client.removed.clear()
        if not last:
            gc.collect()
            self.report.memory.append(self.traced() or rss_bytes())
            self.report.rss.append(rss_bytes())

    def traced(self) -> int:
        """Python memory in use (tracemalloc), the simulators' and the harness's included: they
        keep a few hundred bytes per call played (the runner's call handles, the PBX's counters)."""
        return tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0

    def check_truth(self, r: int, fault: str | None, last: bool) -> None:
        """Every call of the round, as the widgets of its DN saw it: correlated and in sync once
        answered (unless Asterisk was restarted under it), and gone from every widget at the end."""
        for i, dn in enumerate(self.dns):
            live = self.runner.calls.get(f"soak_r{r}#{r - 1}:c{i}")
            if live is None:
                self.report.truth_misses.append(f"round {r} {dn}: call never started")
                continue
            for client in self.by_dn[dn]:
                seen = client.seen.get(live.call_uuid, set())
                in_sync = any(both and sync == "ok" and state in ("established", "held")
                              for state, sync, both in seen)
                if fault != "ami_restart" and not in_sync:
                    self.report.truth_misses.append(f"round {r} {dn}: never in sync: {sorted(seen)}")
                if not last and any(c.get("call_uuid") == live.call_uuid for c in client.calls.values()):
                    self.report.truth_misses.append(f"round {r} {dn}: the widget still shows the call")
        if last:
            calls = {c["dn"]: c for c in self.components.pipeline.correlator.calls()}
            for i, dn in enumerate(self.dns):
                live = self.runner.calls[f"soak_r{r}#{r - 1}:c{i}"]
                call = calls.get(dn)
                got = call and (call["call_uuid"], call["state"], call["sync"]["status"],
                                bool(call.get("genesys")) and bool(call.get("asterisk")))
                want = (live.call_uuid, expected_last_state(i), "ok", True)
                if got != want:
                    self.report.truth_misses.append(f"last round {dn}: {got} != {want}")

    # ------------------------------------------------------------------ final comparisons

    def compare_views(self) -> None:
        """Each widget's folded view equals the bridge's correlator state for its DN."""
        core = self.components.pipeline.correlator
        for client in self.clients:
            want = {c["id"]: c for c in core.snapshot(client.dn)[1]}
            if client.calls != want:
                self.report.fold_diff.append(
                    f"{client.dn}: widget {sorted(client.calls)} != bridge {sorted(want)}")

    async def compare_with_resync(self) -> None:
        """A fresh correlator fed only by a new AMI login (CoreShowChannels) and new GWS logins (REST
        re-read) computes the same calls as the bridge."""
        fresh = Correlator(correlator_settings(self.settings))

        def feed(event: InboundEvent | None) -> None:
            if event is not None:
                fresh.feed(event)

        agents = GwsAgents(
            GwsSettings(base_url=self.gws.base_url, backoff_initial=0.1, backoff_max=0.5,
                        agents=[GwsAgent(username=a.username, password=SecretStr(a.password))
                                for a in self.gws.agents.values()]),
            on_message=lambda dn, raw, t: feed(parse_gws(raw, t, dn=dn)),
            on_link=lambda dn, status, t, detail: feed(GwsLink(t, dn, status, detail)),
        )
        client = AmiClient(
            AmiSettings(port=self.ami.port, username=self.ami.username, secret=SecretStr(self.ami.secret)),
            on_message=lambda raw, t: feed(parse_ami(raw, t)),
            on_link=lambda status, t, *rest: feed(AmiLink(t, status)),
        )

        def view(calls: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
            return sorted((c["dn"], c["call_uuid"] or "", c["state"], c["sync"]["status"]) for c in calls)

        def fresh_view() -> list[tuple[str, str, str, str]]:
            # A hold made by a SIP re-INVITE (WWE hold) shows in AMI only as the Hold event; the
            # channel listing of a resync cannot show it, so a correlator that knows nothing but
            # the resync sees Genesys Held over an Asterisk leg not known to be held.
            calls = fresh.calls()
            self.report.sip_hold_unseen = sum(c["sync"]["rule"] == "held_in_genesys_only" for c in calls)
            return view([{**c, "sync": {"status": "ok"}} if c["sync"]["rule"] == "held_in_genesys_only" else c
                         for c in calls])

        await agents.start()
        await client.start(timeout_s=30)
        try:
            want = view(self.components.pipeline.correlator.calls())
            with contextlib.suppress(AssertionError):
                await self._until(lambda: fresh_view() == want, QUIET_S, "fresh resync")
            got = fresh_view()
            if got != want:
                self.report.resync_diff = [f"bridge {w} / resync {g}" for w, g in zip(want, got, strict=False)
                                           if w != g] or [f"bridge {len(want)} calls, resync {len(got)}"]
        finally:
            await client.close()
            await agents.stop()

    async def run(self) -> Report:
        started = time.monotonic()
        async with self.running():
            for n, dn in enumerate(self.dns * -(-self.o.clients // len(self.dns))):
                if n >= self.o.clients:
                    break
                tok = mint(TOKEN_SECRET.encode(), f"w{n}", [dn], 3600, time.time())
                self.clients.append(Client(dn, tok))
                self.by_dn.setdefault(dn, []).append(self.clients[-1])
            for chunk in range(0, len(self.clients), 100):
                await asyncio.gather(*(self.connect(c) for c in self.clients[chunk:chunk + 100]))
            r = 0
            try:
                while True:
                    r += 1
                    elapsed = time.monotonic() - started
                    done = (elapsed >= self.o.minutes * 60 and r > 6) if self.o.minutes else r > self.o.rounds
                    await self.play_round(r, last=done)
                    if done:
                        break
                self.compare_views()
                await self.compare_with_resync()
            except AssertionError:
                pass  # noted in the report: the run stops there
            for client in self.clients:
                self.report.deltas_received += client.deltas
                self.report.snapshots += client.snapshots
                self.report.resumes += client.resumes
                self.report.problems += client.problems
            self.report.step_errors = len(self.runner.errors)
        self.report.seconds = time.monotonic() - started
        return self.report


async def soak(options: Options, *, trace: bool = True) -> Report:
    if trace:
        tracemalloc.start()
    try:
        return await Soak(options).run()
    finally:
        if trace:
            tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="agent DNs, one live call each per round")
    parser.add_argument("--clients", type=int, default=1000, help="widget WebSocket clients")
    parser.add_argument("--minutes", type=float, default=10.0, help="run rounds for this long (0: --rounds)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--speed", type=float, default=2.0, help="scenario clock speed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-trace", action="store_true", help="RSS only (tracemalloc slows the run)")
    parser.add_argument("--quiet-s", type=float, default=QUIET_S, help="deadline to settle after a round")
    args = parser.parse_args(argv)
    report = asyncio.run(soak(Options(calls=args.calls, clients=args.clients, rounds=args.rounds,
                                      minutes=args.minutes, speed=args.speed, seed=args.seed,
                                      verbose=True, quiet_s=args.quiet_s),
                              trace=not args.no_trace))
    for line in report.lines():
        if line:
            print(line)
    for line in (report.problems + report.truth_misses + report.resync_diff + report.fold_diff)[:20]:
        print(f"# {line}")
    ok = not (report.problems or report.truth_misses or report.resync_diff or report.fold_diff)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
