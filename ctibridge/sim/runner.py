"""Plays scenarios into the GWS simulator and the AMI simulator on one clock.

Each step changes the call on both sides (or on one, for ``only`` calls and one-sided faults), each
side possibly late (``delay``). What the bridge does to a call (its GWS operations and AMI actions,
e.g. a widget's hold) is mirrored onto the other simulator, as Genesys SIP Server and the gateway
would: a GWS Hold becomes a re-INVITE Hold on the trunk leg, an AMI Redirect-hold makes GWS
report Held, and so on. Steps that no longer apply (a race lost) are recorded in ``errors``, not
raised: a race is the point of some scenarios.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ctibridge.core.ami_parse import RawMessage
from ctibridge.core.dialplan import HOLD_CONTEXT, HOLD_MUSIC_EXTEN, HOLD_PARK_EXTEN
from ctibridge.sim.ami.pbx import PbxError
from ctibridge.sim.ami.server import AmiSimulator
from ctibridge.sim.gws import GwsSimulator, Operation
from ctibridge.sim.gws.calls import new_call_uuid
from ctibridge.sim.scenario import (
    Abandon,
    Answer,
    Delay,
    EndConsultation,
    Fault,
    Hangup,
    Hold,
    InboundCall,
    OutboundCall,
    Scenario,
    Step,
    Transfer,
)

log = logging.getLogger("ctibridge.sim.runner")

MIRROR_ANSWER_S = 1.0  # a far end the bridge dialled answers after this


@dataclass
class LiveCall:
    """One call of a running scenario, by the ids each simulator knows it by."""

    handle: str
    dn: str
    call_uuid: str
    direction: str
    genesys: bool = True
    asterisk: bool = True
    gws_id: str = ""
    trunk: str = ""  # channel names
    agent: str = ""
    consult_gws_id: str = ""


@dataclass
class StepError:
    step: str
    detail: str


@dataclass
class ScenarioRunner:
    gws: GwsSimulator
    ami: AmiSimulator
    speed: float = 1.0  # 2.0 plays twice as fast
    calls: dict[str, LiveCall] = field(default_factory=dict)
    errors: list[StepError] = field(default_factory=list)
    _lag: dict[str, float] = field(default_factory=lambda: {"genesys": 0.0, "asterisk": 0.0})
    _runs: itertools.count[int] = field(default_factory=itertools.count)
    _prefix: str = ""

    def __post_init__(self) -> None:
        self.ami.speed = self.speed  # one clock: Asterisk's own timers follow the scenario's speed
        self.gws.on_operation.append(self._on_gws_operation)
        self.ami.on_action.append(self._on_ami_action)

    # ------------------------------------------------------------------ playing

    async def play(self, scenario: Scenario) -> None:
        """Play once, in real time (scaled by ``speed``); handles are fresh for every play."""
        self._prefix = f"{scenario.name}#{next(self._runs)}:"
        self._lag = {"genesys": 0.0, "asterisk": 0.0}
        loop = asyncio.get_running_loop()
        start = loop.time()
        for step in scenario.steps:
            await asyncio.sleep(max(0.0, start + step.at / self.speed - loop.time()))
            await self.apply(step)
        await asyncio.sleep(max(0.0, start + scenario.duration / self.speed - loop.time()))

    async def apply(self, step: Step) -> None:
        try:
            if isinstance(step, Fault):
                await self._fault(step)
            elif isinstance(step, Delay):
                self._lag[step.side] = step.ms / 1000
            else:
                self._call_step(step)
        except (PbxError, KeyError, ValueError) as exc:
            self.errors.append(
                StepError(f"{self._prefix}{step.kind}@{step.at}", str(exc) or type(exc).__name__)
            )
            log.info("scenario step %s@%s did not apply: %s", step.kind, step.at, exc)

    def _call_step(
        self, step: InboundCall | OutboundCall | Answer | Hold | Transfer | EndConsultation | Hangup | Abandon
    ) -> None:
        if isinstance(step, InboundCall):
            self._inbound(step)
        elif isinstance(step, OutboundCall):
            self._outbound(step)
        else:
            call = self.calls[self._prefix + step.call]
            if isinstance(step, Answer):
                self._answer(call)
            elif isinstance(step, Hold):
                self._hold(call, step.kind == "hold", step.side)
            elif isinstance(step, Transfer):
                self._transfer(call, step)
            elif isinstance(step, EndConsultation):
                self._end_consultation(call, step.kind == "complete", step.side)
            elif isinstance(step, Hangup):
                self._both(
                    call,
                    lambda: self.gws.release(call.gws_id),
                    lambda: self.ami.pbx.hangup(
                        self.ami.pbx.channel(call.trunk if step.by == "customer" else call.agent)
                    ),
                )
            elif isinstance(step, Abandon):
                self._both(
                    call,
                    lambda: self.gws.release(call.gws_id),
                    lambda: self.ami.pbx.abandon(self.ami.pbx.channel(call.trunk)),
                )

    async def _fault(self, step: Fault) -> None:
        if step.kind == "drop_gws_sessions":
            self.gws.drop_sessions()
        elif step.kind == "restart_gws":
            self.gws.restart()
        elif step.kind == "ami_disconnect":
            self.ami.disconnect_clients()
        else:
            await self.ami.restart()

    # ------------------------------------------------------------------ sides

    def _side(self, side: str, action: Callable[[], object]) -> None:
        """Run ``action`` now, or when the side's delay has passed; a failure is recorded."""

        def run() -> None:
            try:
                action()
            except (PbxError, KeyError, ValueError) as exc:
                self.errors.append(StepError(f"{self._prefix}{side}", str(exc) or type(exc).__name__))

        lag = self._lag[side] / self.speed
        if lag > 0:
            asyncio.get_running_loop().call_later(lag, run)
        else:
            run()

    def _both(
        self,
        call: LiveCall,
        genesys: Callable[[], object],
        asterisk: Callable[[], object],
        first: str = "genesys",
    ) -> None:
        order = [("genesys", genesys, call.genesys), ("asterisk", asterisk, call.asterisk)]
        if first == "asterisk":
            order.reverse()
        for side, action, present in order:
            if present:
                self._side(side, action)

    # ------------------------------------------------------------------ call steps

    def _inbound(self, step: InboundCall) -> LiveCall:
        call = LiveCall(
            self._prefix + step.call,
            step.dn,
            step.call_uuid or new_call_uuid(),
            "inbound",
            genesys=step.only != "asterisk",
            asterisk=step.only != "genesys",
        )
        self.calls[call.handle] = call

        def genesys() -> None:
            call.gws_id = self.gws.call_ringing(
                step.dn, call.call_uuid, ani=step.caller, user_data=step.user_data
            )

        def asterisk() -> None:
            sip_call_id = f"{int(time.time() * 1000) % 100000}-{len(self.calls)}@127.0.0.2"
            trunk, agent = self.ami.pbx.inbound_ring(
                step.dn, step.caller, step.caller_name, call.call_uuid, sip_call_id
            )
            call.trunk, call.agent = trunk.name, agent.name

        self._both(call, genesys, asterisk)
        return call

    def _outbound(self, step: OutboundCall) -> LiveCall:
        call = LiveCall(
            self._prefix + step.call,
            step.dn,
            new_call_uuid(),
            "outbound",
            genesys=step.only != "asterisk",
            asterisk=step.only != "genesys",
        )
        self.calls[call.handle] = call
        self._dial(call, step.destination)
        return call

    def _dial(self, call: LiveCall, destination: str, gws_id: str = "") -> None:
        def genesys() -> None:
            call.gws_id = gws_id or self.gws.call_dialing(call.dn, destination, call.call_uuid)

        def asterisk() -> None:
            agent, trunk = self.ami.pbx.outbound_dial(call.dn, destination)
            call.agent, call.trunk = agent.name, trunk.name

        self._both(call, genesys, asterisk, first="asterisk")

    def _answer(self, call: LiveCall) -> None:
        def asterisk() -> None:
            pbx = self.ami.pbx
            if call.direction == "inbound":
                pbx.answer(pbx.channel(call.agent))
            else:
                pbx.outbound_answered(pbx.channel(call.trunk), call.call_uuid if call.genesys else "")

        self._both(call, lambda: self.gws.set_state(call.gws_id, "Established"), asterisk, first="asterisk")

    def _hold(self, call: LiveCall, held: bool, side: str) -> None:
        pbx = self.ami.pbx
        if side == "genesys":  # WWE: GWS first, SIP Server's re-INVITE reaches the trunk leg
            self._both(
                call,
                lambda: self.gws.set_state(call.gws_id, "Held" if held else "Established"),
                lambda: pbx.reinvite_hold(pbx.channel(call.trunk), held),
            )
        elif held:  # the gateway: dual Redirect into ctibridge-hold, Genesys follows
            self._both(
                call,
                lambda: self.gws.set_state(call.gws_id, "Held"),
                lambda: pbx.redirect(
                    call.trunk, HOLD_CONTEXT, HOLD_MUSIC_EXTEN, call.agent, HOLD_CONTEXT, HOLD_PARK_EXTEN
                ),
                first="asterisk",
            )
        else:
            self._both(
                call,
                lambda: self.gws.set_state(call.gws_id, "Established"),
                lambda: pbx.bridge_action(call.trunk, call.agent),
                first="asterisk",
            )

    def _transfer(self, call: LiveCall, step: Transfer) -> None:
        pbx = self.ami.pbx
        if step.kind == "consult_transfer":
            self._both(
                call,
                lambda: self._gws_consult(call, step.destination),
                lambda: pbx.atxfer(call.agent, step.destination),
                first=step.side,
            )
            return
        follow = self._follower(call, step.destination, step.target)

        def asterisk() -> None:
            pbx.blind_transfer(call.agent, step.destination)
            if follow is not None:
                follow.agent = self._dialled_by(call.trunk)

        self._both(call, lambda: self._gws_transferred(call, follow), asterisk, first=step.side)

    def _follower(self, call: LiveCall, destination: str, target: str) -> LiveCall | None:
        """The customer's call after a transfer to a simulated agent DN (same CallUUID), or None."""
        if destination not in self.gws.agent_states:
            return None
        handle = self._prefix + (target or f"{call.handle}>{destination}")
        follow = LiveCall(
            handle, destination, call.call_uuid, "inbound", call.genesys, call.asterisk, trunk=call.trunk
        )
        self.calls[handle] = follow
        return follow

    def _gws_transferred(self, call: LiveCall, follow: LiveCall | None) -> None:
        """Genesys: the original call is released, then (GWS keys calls by CallUUID) offered again."""
        ani = self.gws.calls[call.gws_id].ani
        self.gws.release(call.gws_id)
        if follow is not None:
            follow.gws_id = self.gws.call_ringing(follow.dn, follow.call_uuid, ani=ani)

    def _gws_consult(self, call: LiveCall, destination: str) -> None:
        call.consult_gws_id = self.gws.initiate_consultation(call.gws_id, destination)

    def _end_consultation(self, call: LiveCall, complete: bool, side: str) -> None:
        pbx = self.ami.pbx

        def genesys() -> None:
            if complete:
                self.gws.complete_consultation(call.gws_id)
            else:
                self.gws.release(call.consult_gws_id)
                self.gws.set_state(call.gws_id, "Established")

        def asterisk() -> None:
            if complete:
                pbx.hangup(pbx.channel(call.agent))
            else:
                pbx.cancel_atxfer(call.agent)

        self._both(call, genesys, asterisk, first=side)

    # ------------------------------------------------------------------ the bridge's own actions

    def _by_gws_id(self, gws_id: str) -> LiveCall | None:
        return next((c for c in self.calls.values() if gws_id in (c.gws_id, c.consult_gws_id)), None)

    def _by_channel(self, name: str) -> LiveCall | None:
        return next((c for c in reversed(self.calls.values()) if name in (c.agent, c.trunk)), None)

    def _on_gws_operation(self, op: Operation) -> None:
        """The bridge asked GWS (the simulator already changed its side): Asterisk follows."""
        pbx = self.ami.pbx
        if op.name == "Dial":
            dialled = LiveCall(
                f"bridge:{op.call_id}", op.dn, self.gws.calls[op.call_id].call_uuid, "outbound"
            )
            self.calls[dialled.handle] = dialled
            self._dial(dialled, str(op.body["destination"]["phoneNumber"]), gws_id=op.call_id)
            asyncio.get_running_loop().call_later(MIRROR_ANSWER_S, lambda: self._answer(dialled))
            return
        call = self._by_gws_id(op.call_id)
        if call is None or not call.asterisk:
            return
        mirror: dict[str, Callable[[], Any]] = {
            "Answer": lambda: pbx.answer(pbx.channel(call.agent)),
            "Hangup": lambda: pbx.hangup(pbx.channel(call.trunk)),
            "ClearCall": lambda: pbx.hangup(pbx.channel(call.trunk)),
            "Hold": lambda: pbx.reinvite_hold(pbx.channel(call.trunk), True),
            "Retrieve": lambda: pbx.reinvite_hold(pbx.channel(call.trunk), False),
            "SingleStepTransfer": lambda: self._mirror_blind(
                call, str(op.body["destination"]["phoneNumber"])
            ),
            "InitiateTransfer": lambda: pbx.atxfer(call.agent, str(op.body["destination"]["phoneNumber"])),
            "CompleteTransfer": lambda: pbx.hangup(pbx.channel(call.agent)),
            "Reconnect": lambda: pbx.cancel_atxfer(call.agent),
        }
        action = mirror.get(op.name)
        if action is not None:
            self._side("asterisk", action)

    def _mirror_blind(self, call: LiveCall, destination: str) -> None:
        """GWS already released the call; the customer's leg goes on to ``destination``."""
        self.ami.pbx.blind_transfer(call.agent, destination)
        follow = self._transferred_leg(call, destination)
        if follow is not None:
            follow.gws_id = self.gws.call_ringing(follow.dn, follow.call_uuid)

    def _transferred_leg(self, call: LiveCall, destination: str) -> LiveCall | None:
        """After Asterisk transferred ``call``: the follower with the new agent leg dialled."""
        follow = self._follower(call, destination, "")
        if follow is not None:
            follow.agent = self._dialled_by(call.trunk)
        return follow

    def _dialled_by(self, channel: str) -> str:
        """The channel ``channel`` is dialling now (a transfer target), or ""."""
        return next((dest for dest, caller in self.ami.pbx.dials.items() if caller == channel), "")

    def _on_ami_action(self, name: str, msg: RawMessage) -> None:
        """The bridge acted on Asterisk (the simulator already changed its side): GWS follows."""
        channel = str(msg.get("Channel") or msg.get("Channel1") or "")
        call = self._by_channel(channel)
        if call is None or not call.genesys or not call.gws_id:
            return
        mirror: dict[str, Callable[[], Any]] = {
            "Redirect": lambda: self.gws.set_state(call.gws_id, "Held"),
            "Bridge": lambda: self.gws.set_state(call.gws_id, "Established"),
            "BlindTransfer": lambda: self._gws_transferred(
                call, self._transferred_leg(call, str(msg.get("Exten")))
            ),
            "Hangup": lambda: self.gws.release(call.gws_id),
            "Atxfer": lambda: self.gws.set_state(call.gws_id, "Held"),
            "CancelAtxfer": lambda: self.gws.set_state(call.gws_id, "Established"),
        }
        action = mirror.get(name)
        if action is not None and call.gws_id in self.gws.calls:
            self._side("genesys", action)
