"""The Genesys SIP Server stand-in: the call model the GWS simulator and the SIP side share.

Every Genesys call has one CallUUID: the GWS call id and the ``X-Genesys-CallUUID`` of each
INVITE the stand-in sends through the gateway trunk. The stand-in is a B2BUA whose far side is
simulated inside it: the customer (or the far party of an agent's outbound call) is a tone
played into the call's leg toward the gateway. GWS operations on a call are handed here
(``GwsSimulator.call_control``) and carried out in SIP; GWS events are published only when the
SIP side did it (a 180, a 200, a re-INVITE's answer, a BYE), failures included.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ctibridge.sim.gws.calls import SimCall, new_call_uuid
from ctibridge.sim.gws.server import GwsSimulator, Operation
from ctibridge.sim.gws.sim_http import destination_of
from ctibridge.sim.sipserver.client import EngineClient, EngineError, EngineEvent
from ctibridge.sim.sipserver.engine import CALL_UUID_HEADER

log = logging.getLogger("ctibridge.sim.sipserver")

TRUNK = "trunk"  # the engine endpoint that is the SIP Server's side of the gateway trunk
CUSTOMER_TONE = "tone:440"  # the customer, or the far party of an outbound call
PHONE_TONE = "tone:660"  # a lab agent phone
MUSIC = "tone:523"  # what the customer hears while held
PhoneMode = Literal["answer", "busy", "no_answer"]
# why a call that never reached Established ended, by the final SIP status of its INVITE
FAILURES = {486: "busy", 600: "busy", 408: "no_answer", 480: "no_answer", 487: "no_answer", 404: "not_found"}


@dataclass
class LabCall:
    """One Genesys call as the SIP side sees it: where it is, in what state, and why it ended."""

    uuid: str
    dn: str  # the agent DN the call is at now
    leg: str  # the engine leg toward the gateway for that DN
    direction: Literal["inbound", "outbound"]
    party: str  # the customer's number (inbound) or the number the agent dialled (outbound)
    state: str = "dialing"  # dialing | ringing | established | held | released
    outcome: str = ""  # why it was released: bye, customer_hangup, busy, no_answer, rona, transferred, ...
    legs: list[str] = field(default_factory=list)  # every leg the call has had, in order
    talk_s: float | None = None
    user_data: dict[str, Any] = field(default_factory=dict)
    consult: str = ""  # the open consultation's CallUUID
    conference: list[str] = field(default_factory=list)  # legs mixed into this call by a conference


@dataclass
class Consultation:
    """InitiateTransfer/InitiateConference: the agent's new leg and the target's, bridged here."""

    uuid: str
    parent: str  # the original call's CallUUID
    kind: Literal["transfer", "conference"]
    agent_leg: str
    target_leg: str
    target: str


class SipServer:
    """``await start()``; ``await call(dn)`` places a customer call; ``await stop()``."""

    def __init__(self, gws: GwsSimulator, workdir: Path, *, trunk: tuple[str, int], gateway: str,
                 phones: dict[str, tuple[str, int]] | None = None,
                 phone_passwords: dict[str, str] | None = None, trunk_engines: int = 1,
                 ring_timeout_s: float = 20.0,
                 answer_after_s: float = 0.3, talk_s: tuple[float, float] | None = None) -> None:
        self.gws, self.gateway, self.ring_timeout_s = gws, gateway, ring_timeout_s
        self.answer_after_s, self.talk_s = answer_after_s, talk_s
        self.phones = dict(phones or {})
        self.phone_modes: dict[str, PhoneMode] = {dn: "answer" for dn in self.phones}
        self.calls: dict[str, LabCall] = {}
        self.consultations: dict[str, Consultation] = {}
        # PJSUA's build limit is 4 calls per process: the trunk side is a pool of engines (the first
        # on the trunk address, where the gateway sends agents' calls; the others on free ports of
        # the same host, which the gateway's identify-by-address accepts), each phone has its own.
        passwords = phone_passwords or {}
        self.trunks = [EngineClient({TRUNK: (trunk[0], trunk[1] if n == 0 else 0)},
                                    functools.partial(self._on_event, n), workdir / f"sip-trunk-{n}.log")
                       for n in range(trunk_engines)]
        self.phone_engines = {
            dn: EngineClient({dn: address}, functools.partial(self._on_event, dn),
                             workdir / f"sip-phone-{dn}.log",
                             passwords={dn: passwords[dn]} if dn in passwords else None)
            for dn, address in self.phones.items()}
        self._engine_of: dict[str, EngineClient] = {}  # leg -> the engine it lives in
        self.call_engines: dict[str, EngineClient] = {}  # CallUUID -> the trunk engine of its legs
        self._by_leg: dict[str, str] = {}  # leg -> CallUUID
        self._leg_names = (f"L{n}" for n in itertools.count(1))
        self._waiters: list[tuple[Callable[[EngineEvent], bool], asyncio.Future[EngineEvent]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.leg_states: dict[str, str] = {}  # every leg's last SIP state
        self.leg_media: dict[str, str] = {}  # and its media: active, local_hold, remote_hold, none
        self.phone_calls: dict[str, str] = {}  # incoming leg at a lab phone -> the CallUUID it carried

    async def start(self) -> None:
        for engine in self._engines():
            await engine.start()
        self.gws.call_control = self

    async def stop(self) -> None:
        if self.gws.call_control is self:
            self.gws.call_control = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for engine in self._engines():
            await engine.stop()

    # ------------------------------------------------------------------ the lab's API

    async def call(self, dn: str, ani: str = "5550001000", talk_s: float | None = None,
                   user_data: dict[str, Any] | None = None) -> str:
        """A customer call to ``dn`` through the gateway. Returns its CallUUID at once; the call
        then rings, is answered (or fails: busy, no answer, RONA) and, after ``talk_s`` seconds of
        talk (default: the lab's range, or until someone hangs up), the customer hangs up."""
        uuid = new_call_uuid()
        if talk_s is None and self.talk_s is not None:
            talk_s = random.uniform(*self.talk_s)
        call = LabCall(uuid, dn, "", "inbound", ani, talk_s=talk_s, user_data=dict(user_data or {}))
        self.calls[uuid] = call
        await self._dial(call, dn)
        return uuid

    def state(self, uuid: str) -> LabCall:
        return self.calls[uuid]

    async def rtp(self, uuid: str) -> dict[str, Any]:
        """The call's current leg toward the gateway: RTP packets each way since its last
        (re-)negotiation and the level of what the customer receives (0-255)."""
        result: dict[str, Any] = await self._cmd("stats", leg=self.calls[uuid].leg)
        return result

    async def phone_rtp(self, uuid: str) -> dict[str, Any]:
        """The same figures at the lab phone that has this call."""
        leg = next((leg for leg, u in self.phone_calls.items() if u == uuid), "")
        result: dict[str, Any] = await self._cmd("stats", leg=leg)
        return result

    async def phone_dial(self, dn: str, number: str) -> str:
        """The lab phone of ``dn`` calls ``number`` through the gateway (which routes it to this
        stand-in as the far end). Returns the phone's leg."""
        leg = next(self._leg_names)
        self._engine_of[leg] = self.phone_engines[dn]
        await self._cmd("dial", leg=leg, on=dn, uri=f"sip:{number}@{self.gateway}")
        await self._cmd("connect", source=PHONE_TONE, leg=leg)
        return leg

    async def phone_hangup(self, leg: str) -> None:
        await self._cmd("hangup", leg=leg)

    def outbound_call(self, dn: str) -> LabCall | None:
        """The latest call ``dn`` made through the gateway."""
        calls = [c for c in self.calls.values() if c.direction == "outbound" and c.dn == dn]
        return calls[-1] if calls else None

    async def customer_hangup(self, uuid: str) -> None:
        call = self.calls[uuid]
        call.outcome = call.outcome or "customer_hangup"
        await self._cmd("hangup", leg=call.leg)

    async def wait_state(self, uuid: str, state: str, within_s: float = 15.0) -> LabCall:
        deadline = asyncio.get_running_loop().time() + within_s
        while self.calls[uuid].state != state:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"call {uuid} is {self.calls[uuid].state}, not {state}")
            await asyncio.sleep(0.05)
        return self.calls[uuid]

    # ------------------------------------------------------------------ GWS operations

    def carry_out(self, operation: Operation, call: SimCall) -> None:
        """Called by the GWS simulator for an accepted operation: do it in SIP (in the background,
        as SIP Server answers the request before the call changes)."""
        handler = _OPERATIONS.get(operation.name)
        if handler is None:
            self.gws.apply(call, operation)  # no SIP part (user data, DTMF): GWS does it alone
            return
        task = asyncio.create_task(self._carry_out(handler, operation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _carry_out(self, handler: Callable[..., Any], operation: Operation) -> None:
        try:
            await handler(self, operation)
        except Exception:  # a failed operation leaves the call as it is, like a refused TLib request
            log.exception("GWS operation %s on %s failed in SIP", operation.name, operation.call_id)

    def _call_of(self, operation: Operation) -> LabCall:
        consult = self.consultations.get(operation.call_id)
        return self.calls[consult.parent if consult else operation.call_id]

    async def _hold(self, operation: Operation) -> None:
        call = self._call_of(operation)
        await self._hold_leg(call)

    async def _hold_leg(self, call: LabCall) -> None:
        await self._cmd("disconnect", source=CUSTOMER_TONE, leg=call.leg)
        held = self._wait(lambda e: e.get("leg") == call.leg and e.get("status") == "local_hold")
        await self._cmd("hold", leg=call.leg)
        await held
        call.state = "held"  # the customer now hears MUSIC (the stand-in's, not the gateway's)
        self._gws_state(call, "Held")

    async def _retrieve(self, operation: Operation) -> None:
        await self._retrieve_leg(self._call_of(operation))

    async def _retrieve_leg(self, call: LabCall) -> None:
        active = self._wait(lambda e: e.get("leg") == call.leg and e.get("status") == "active")
        await self._cmd("unhold", leg=call.leg)
        await active
        await self._cmd("connect", source=CUSTOMER_TONE, leg=call.leg)
        call.state = "established"
        self._gws_state(call, "Established")

    async def _release(self, operation: Operation) -> None:
        consult = self.consultations.get(operation.call_id)
        if consult is not None:
            await self._end_consultation(consult)
            return
        call = self.calls[operation.call_id]
        call.outcome = "released_by_agent"
        await self._cmd("hangup", leg=call.leg)

    async def _single_step_transfer(self, operation: Operation) -> None:
        """The customer's leg goes to the target: BYE to the agent, a new INVITE (same CallUUID)."""
        call = self._call_of(operation)
        target = destination_of(operation.body)
        old_leg = call.leg
        self._gws_release(call)
        await self._dial(call, target)
        await self._cmd("hangup", leg=old_leg)

    async def _single_step_conference(self, operation: Operation) -> None:
        """The target joins: a new leg with the call's CallUUID, mixed with the customer and the agent."""
        call = self._call_of(operation)
        target = destination_of(operation.body)
        leg = await self._new_leg(call.uuid, target)
        if await self._answered(leg):
            await self._mix(call, leg)
        self.gws.add_participant(call.uuid, target)

    async def _mix(self, call: LabCall, leg: str) -> None:
        call.conference.append(leg)
        await self._cmd("connect", source=CUSTOMER_TONE, leg=leg)
        await self._cmd("connect", source=leg, leg=call.leg)
        await self._cmd("connect", source=call.leg, leg=leg)

    async def _initiate(self, operation: Operation) -> None:
        """A consultation: the original leg is held, the agent gets a new leg and the target
        another one, both with a new CallUUID, bridged here."""
        call = self._call_of(operation)
        target = destination_of(operation.body)
        kind: Literal["transfer", "conference"] = (
            "conference" if operation.name == "InitiateConference" else "transfer")
        await self._hold_leg(call)
        uuid = self.gws.consult_dialing(call.uuid, target, kind)
        consult = Consultation(uuid, call.uuid, kind, "", "", target)
        self.consultations[uuid] = consult
        call.consult = uuid
        consult.agent_leg = await self._new_leg(uuid, call.dn)
        consult.target_leg = await self._new_leg(uuid, target)
        if not (await self._answered(consult.agent_leg) and await self._answered(consult.target_leg)):
            await self._end_consultation(consult)
            return
        await self._cmd("connect", source=consult.agent_leg, leg=consult.target_leg)
        await self._cmd("connect", source=consult.target_leg, leg=consult.agent_leg)
        self.gws.set_state(uuid, "Established")

    async def _complete(self, operation: Operation) -> None:
        call = self._call_of(operation)
        consult = self.consultations.pop(call.consult)
        call.consult = ""
        await self._cmd("hangup", leg=consult.agent_leg)
        if consult.kind == "transfer":  # the customer now talks with the target on its leg
            old_leg = call.leg
            self.gws.complete_consultation(consult.uuid)
            call.leg, call.dn, call.outcome = consult.target_leg, consult.target, ""
            self._by_leg[consult.target_leg] = call.uuid
            call.legs.append(consult.target_leg)
            call.state = "established"
            await self._cmd("connect", source=CUSTOMER_TONE, leg=consult.target_leg)
            await self._cmd("hangup", leg=old_leg)
            return
        await self._retrieve_leg(call)
        await self._mix(call, consult.target_leg)
        self.gws.complete_consultation(consult.uuid)

    async def _reconnect(self, operation: Operation) -> None:
        call = self._call_of(operation)
        consult = self.consultations.get(call.consult)
        if consult is not None:
            await self._end_consultation(consult)
        await self._retrieve_leg(call)

    async def _end_consultation(self, consult: Consultation) -> None:
        self.consultations.pop(consult.uuid, None)
        parent = self.calls.get(consult.parent)
        if parent is not None:
            parent.consult = ""
        for leg in (consult.agent_leg, consult.target_leg):
            if leg:
                await self._cmd("hangup", leg=leg)
        if consult.uuid in self.gws.calls:
            self.gws.release(consult.uuid)

    # ------------------------------------------------------------------ SIP

    async def _new_leg(self, uuid: str, dn: str) -> str:
        leg = next(self._leg_names)
        engine = self.call_engines.setdefault(uuid, self.trunks[len(self.call_engines) % len(self.trunks)])
        self._engine_of[leg] = engine
        await self._cmd("dial", leg=leg, on=TRUNK, uri=f"sip:{dn}@{self.gateway}",
                                  headers_={CALL_UUID_HEADER: uuid})
        return leg

    async def _answered(self, leg: str) -> bool:
        """Wait until ``leg`` is answered (True) or ends or rings too long (False)."""
        deadline = asyncio.get_running_loop().time() + self.ring_timeout_s
        while asyncio.get_running_loop().time() < deadline:
            state = self.leg_states.get(leg, "calling")
            if state in ("confirmed", "disconnected"):
                return state == "confirmed"
            await asyncio.sleep(0.02)
        await self._cmd("hangup", leg=leg)
        return False

    async def _dial(self, call: LabCall, dn: str) -> None:
        call.dn, call.state = dn, "dialing"
        call.leg = await self._new_leg(call.uuid, dn)
        self._by_leg[call.leg] = call.uuid
        call.legs.append(call.leg)
        if self.leg_states.get(call.leg) == "disconnected":
            # refused before the engine's reply named the leg (the gateway had no contact for the
            # DN): its end went unnoticed, and the call would keep the DN busy for ever
            self._by_leg.pop(call.leg, None)
            call.outcome, call.state = "refused", "released"
            self._gws_release(call)
            return
        with contextlib.suppress(EngineError):  # refused at once (busy): the leg is gone already
            await self._cmd("connect", source=CUSTOMER_TONE, leg=call.leg)
        self._later(self.ring_timeout_s, self._ring_timeout, call, call.leg)

    async def _ring_timeout(self, call: LabCall, leg: str) -> None:
        """RONA: nobody answered in time; SIP Server takes the call back (CANCEL)."""
        if call.leg == leg and call.state in ("dialing", "ringing"):
            call.outcome = "rona"
            await self._cmd("hangup", leg=leg)

    def _engines(self) -> list[EngineClient]:
        return [*self.trunks, *self.phone_engines.values()]

    async def _cmd(self, op: str, leg: str, **args: Any) -> Any:
        """A command about ``leg``, to the engine that has it."""
        engine = self._engine_of.get(leg)
        if engine is None:
            raise EngineError(f"no such leg {leg!r}")
        return await engine.command(op, leg=leg, **args)

    def _on_event(self, source: int | str, event: EngineEvent) -> None:
        """``source``: the trunk engine's number or the phone's DN."""
        if event.get("event") == "incoming":
            self._engine_of[str(event["leg"])] = (
                self.trunks[source] if isinstance(source, int) else self.phone_engines[source])
        if event.get("event") == "state":
            self.leg_states[str(event["leg"])] = str(event["state"])
        elif event.get("event") == "media":
            self.leg_media[str(event["leg"])] = str(event["status"])
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event):
                future.set_result(event)
        if event.get("event") == "incoming":
            self._spawn(self._incoming(event))
            return
        uuid = self._by_leg.get(str(event.get("leg")))
        call = self.calls.get(uuid or "")
        if call is None or event.get("event") != "state" or call.leg != event["leg"]:
            return
        state = event["state"]
        if state == "early" and call.state == "dialing" and call.direction == "inbound":
            call.state = "ringing"
            if call.dn in self.gws.agent_states:
                self.gws.call_ringing(call.dn, call.uuid, ani=call.party, user_data=call.user_data)
        elif state == "confirmed" and call.state in ("dialing", "ringing"):
            call.state = "established"
            self._gws_state(call, "Established")
            if call.talk_s is not None:
                self._later(call.talk_s, self._talk_over, call, call.leg)
        elif state == "disconnected":
            self._by_leg.pop(event["leg"], None)
            if call.state in ("dialing", "ringing") and not call.outcome:
                call.outcome = FAILURES.get(int(event.get("code") or 0), f"sip_{event.get('code')}")
            call.outcome = call.outcome or "bye"
            call.state = "released"
            self._gws_release(call)
            for leg in call.conference:
                self._spawn(self._cmd("hangup", leg=leg))
            if call.consult in self.consultations:  # the customer left during a consultation
                self._spawn(self._end_consultation(self.consultations[call.consult]))

    async def _talk_over(self, call: LabCall, leg: str) -> None:
        if call.leg == leg and call.state in ("established", "held"):
            await self.customer_hangup(call.uuid)

    async def _incoming(self, event: EngineEvent) -> None:
        leg, on = str(event["leg"]), str(event["on"])
        if on == TRUNK:
            await self._agent_dialled(leg, dn=str(event["from"]), number=str(event["to"]))
            return
        self.phone_calls[leg] = str(event.get("uuid", ""))
        mode = self.phone_modes.get(on, "answer")
        if mode == "busy":
            await self._cmd("answer", leg=leg, code=486)
            return
        await self._cmd("answer", leg=leg, code=180)
        if mode == "answer":
            await asyncio.sleep(self.answer_after_s)
            await self._cmd("answer", leg=leg, code=200)
            await self._cmd("connect", source=PHONE_TONE, leg=leg)

    async def _agent_dialled(self, leg: str, dn: str, number: str) -> None:
        """An agent's call out through the gateway: SIP Server routes it; the far party answers
        (with the CallUUID in the 200 OK, which the gateway's dialplan reads)."""
        uuid = new_call_uuid()
        talk_s = random.uniform(*self.talk_s) if self.talk_s is not None else None
        call = LabCall(uuid, dn, leg, "outbound", number, talk_s=talk_s, legs=[leg])
        self.calls[uuid] = call
        self._by_leg[leg] = uuid
        self.call_engines[uuid] = self._engine_of[leg]
        if dn in self.gws.agent_states:
            self.gws.call_dialing(dn, number, uuid)
        await self._cmd("answer", leg=leg, code=180)
        await asyncio.sleep(self.answer_after_s)
        await self._cmd("answer", leg=leg, code=200, headers_={CALL_UUID_HEADER: uuid})
        await self._cmd("connect", source=CUSTOMER_TONE, leg=leg)

    # ------------------------------------------------------------------ helpers

    def _gws_state(self, call: LabCall, state: str) -> None:
        if call.uuid in self.gws.calls and self.gws.calls[call.uuid].dn == call.dn:
            self.gws.set_state(call.uuid, state)

    def _gws_release(self, call: LabCall) -> None:
        if call.uuid in self.gws.calls and self.gws.calls[call.uuid].dn == call.dn:
            self.gws.release(call.uuid)

    def _wait(self, predicate: Callable[[EngineEvent], bool],
              within_s: float = 10.0) -> asyncio.Future[EngineEvent]:
        future: asyncio.Future[EngineEvent] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        future.add_done_callback(lambda _: self._waiters.remove(entry))
        return asyncio.ensure_future(asyncio.wait_for(future, within_s))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    def _later(self, delay_s: float, action: Callable[..., Any], *args: Any) -> None:
        async def run() -> None:
            await asyncio.sleep(delay_s)
            await action(*args)
        self._spawn(run())


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("SIP Server stand-in task failed", exc_info=task.exception())


_OPERATIONS: dict[str, Callable[..., Any]] = {
    "Hold": SipServer._hold,
    "Retrieve": SipServer._retrieve,
    "Hangup": SipServer._release,
    "ClearCall": SipServer._release,
    "SingleStepTransfer": SipServer._single_step_transfer,
    "SingleStepConference": SipServer._single_step_conference,
    "InitiateTransfer": SipServer._initiate,
    "InitiateConference": SipServer._initiate,
    "CompleteTransfer": SipServer._complete,
    "CompleteConference": SipServer._complete,
    "Reconnect": SipServer._reconnect,
}
