"""Actions (report only): a widget's hold and retrieve, from the request to the confirmed outcome.

Three measurements:

* ``in_process``: the bridge's own work for one hold, without any I/O: ``plan`` on the call view,
  the AMI ``Redirect`` built and encoded, then the Asterisk events of the hold (made by the AMI
  simulator's ``Pbx``, not timed) framed, parsed and correlated until ``Plan.confirmed`` holds.
* ``widget``: the service in its own process (``bench/latency_bridge.py``) with the AMI simulator on
  loopback; a widget client sends ``hold`` / ``retrieve`` over its WebSocket and waits for the
  ``action_result``. Reported: that round trip, and the executor's own ``latency_ms`` (plan, AMI
  action, confirming events, confirming delta). The simulator answers at once, so this is the
  bridge's share plus two loopback hops, not a real Asterisk's time to move the channels.
* ``asterisk``: the same against the real Asterisk 22 sandbox (``bench/actions_asterisk.py``), with
  Asterisk's share read from the bridge's event log and the bridge's share = executor - Asterisk.
  Skipped, with the reason, where the sandbox cannot run.
"""

from __future__ import annotations

import asyncio
import sys
import time
from itertools import count
from typing import Any

from bench import actions_asterisk
from bench.common import Row, Target, row
from bench.latency import FIRST_DN, bridge_process
from bench.widget_agent import Result, hold_and_retrieve
from ctibridge.ami.operations import hold_action
from ctibridge.ami.protocol import encode_action
from ctibridge.core.actions import AmiOp, Plan, plan
from ctibridge.core.ami_parse import AmiFramer, parse_ami
from ctibridge.core.correlator import Correlator
from ctibridge.core.dialplan import HOLD_CONTEXT, HOLD_MUSIC_EXTEN, HOLD_PARK_EXTEN
from ctibridge.sim.ami.pbx import Pbx
from ctibridge.sim.ami.server import encode

SHARE_TARGET_MS = 2.0


# --------------------------------------------------------------------------- in process


class _Gateway:
    """The simulator's PBX offline: its events as the bytes Asterisk would send."""

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.pbx = Pbx(lambda msg: self.out.append(encode(msg)), lambda delay, cb: None)

    def take(self) -> bytes:
        data, self.out = b"".join(self.out), []
        return data


def _feed(core: Correlator, framer: AmiFramer, data: bytes, t: float) -> list[Any]:
    deltas = []
    for raw in framer.feed(data):
        event = parse_ami(raw, t)
        if event is not None:
            deltas += core.feed(event)
    return deltas


def in_process_hold_ms(calls: int) -> list[float]:
    """Bridge CPU per hold (ms): plan + encode + parse/correlate of the confirming events."""
    gateway, core, framer = _Gateway(), Correlator(), AmiFramer(expect_greeting=False)
    serial = count(1)
    agents = []
    for i in range(calls):
        dn = str(FIRST_DN + i)
        uuid = f"BENCH{next(serial):027d}"
        trunk, agent = gateway.pbx.inbound_ring(dn, "+15550001000", "Bench", uuid, f"{uuid}@bench")
        gateway.pbx.answer(agent)
        agents.append((dn, trunk.name, agent.name))
    _feed(core, framer, gateway.take(), 1.0)
    out = []
    for dn, trunk, agent in agents:
        view = next(v for v in core.snapshot(dn)[1] if v["state"] == "established")
        start = time.perf_counter()
        planned = plan(view, "hold", control="asterisk")
        assert isinstance(planned, Plan) and isinstance(planned.steps[0], AmiOp), planned
        step = planned.steps[0]
        wire = encode_action(hold_action(step.trunk_channel, step.agent_channel))
        spent = time.perf_counter() - start
        gateway.pbx.redirect(trunk, HOLD_CONTEXT, HOLD_MUSIC_EXTEN, agent, HOLD_CONTEXT, HOLD_PARK_EXTEN)
        events = gateway.take()
        start = time.perf_counter()
        confirmed = any(planned.confirmed(d.call) for d in _feed(core, framer, events, 2.0))
        spent += time.perf_counter() - start
        assert confirmed and wire, f"hold on {dn} not confirmed"
        out.append(spent * 1000)
    return out


# --------------------------------------------------------------------------- through the service


async def widget_actions(agents: int, rounds: int) -> list[Result]:
    results: list[Result] = []
    async with bridge_process(agents) as run:
        for i in range(agents):
            dn = str(FIRST_DN + i)
            _, agent = run.sim.pbx.inbound_ring(dn, "+15550001000", "Bench", f"U{i:031d}", f"{i}@b")
            run.sim.pbx.answer(agent)
        async with asyncio.timeout(120):
            # one agent at a time: the bridge's share, not a queue behind other agents' actions
            for i in range(agents):
                await hold_and_retrieve(run.ws_url, str(FIRST_DN + i), rounds, results)
    return results


def _real_asterisk(rounds: int) -> list[Row]:
    reason = actions_asterisk.available()
    if reason:
        print(f"# actions.asterisk skipped: {reason}", file=sys.stderr)
        return []
    got = actions_asterisk.measure(rounds)
    rows = []
    for name in ("hold", "retrieve"):
        results = [r for r in got["results"] if r[0] == name]
        asterisk = [ms for kind, ms in got["asterisk"] if kind == name]
        bridge = [r[2] - a for r, a in zip(results, asterisk, strict=False)]
        rows += [
            row(f"actions.asterisk.{name}_round_trip", f"{name}: widget -> result (Asterisk 22)", "ms",
                [r[1] for r in results],
                note=f"{len(results)} {name}s, outcomes {sorted({r[3] for r in results})}"),
            row(f"actions.asterisk.{name}_executor", f"{name}: executor latency_ms (Asterisk 22)", "ms",
                [r[2] for r in results]),
            row(f"actions.asterisk.{name}_asterisk", f"{name}: Asterisk's share (action -> events)", "ms",
                asterisk),
            row(f"actions.asterisk.{name}_bridge", f"{name}: bridge's share (executor - Asterisk)", "ms",
                bridge, Target("<=", SHARE_TARGET_MS, "< 2 ms")),
        ]
    return rows


def run(quick: bool = False) -> list[Row]:
    share = in_process_hold_ms(20 if quick else 500)
    agents, rounds = (2, 1) if quick else (10, 5)
    results = asyncio.run(widget_actions(agents, rounds))
    failed = [r for r in results if r[3] != "confirmed"]
    holds = [r for r in results if r[0] == "hold"]
    retrieves = [r for r in results if r[0] == "retrieve"]
    note = f"{len(results)} actions, {len(failed)} not confirmed ({sorted({r[3] for r in failed})})"
    target = Target("<=", SHARE_TARGET_MS, "< 2 ms")
    return [
        *_real_asterisk(1 if quick else 10),  # 20 actions: the per-token burst limit of the hub
        row("actions.hold_share_in_process", "hold: plan+encode+confirm, in process", "ms", share, target),
        row("actions.hold_widget_round_trip", "hold: widget request -> result (sim)", "ms",
            [r[1] for r in holds], note=note),
        row("actions.hold_executor", "hold: executor latency_ms (sim)", "ms", [r[2] for r in holds], target),
        row("actions.retrieve_widget_round_trip", "retrieve: widget -> result (sim)", "ms",
            [r[1] for r in retrieves]),
        row("actions.retrieve_executor", "retrieve: executor latency_ms (sim)", "ms",
            [r[2] for r in retrieves], target),
    ]
