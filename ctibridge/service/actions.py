"""The action executor: an agent's action -> GWS/AMI operations -> the confirming delta.

``execute`` plans with ``core.actions.plan`` on the call's current view, tells the correlator
which operations the bridge causes (so their echoes are not mapped back: no loops), runs each step
with a deadline, then waits for a later delta of that call on which ``plan.confirmed`` holds and the
two sides agree (``sync.status == "ok"``: both sides' events show the result). The same executor
carries out the correlator's automatic repairs (``repair``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from ctibridge.ami.errors import AmiError
from ctibridge.ami.operations import ChannelOperations
from ctibridge.core import defaults
from ctibridge.core.actions import AmiOp, Plan, Rejection, Step, operation_kind, plan
from ctibridge.core.correlator import Repair
from ctibridge.core.deltas import Delta, Op
from ctibridge.gws.dialects import OperationParams
from ctibridge.gws.errors import GwsOperationError
from ctibridge.hub.protocol import ActionMessage, ActionResult
from ctibridge.hub.server import Principal
from ctibridge.logs.eventlog import EventLogWriter
from ctibridge.service.metrics import Metrics
from ctibridge.service.pipeline import Pipeline
from ctibridge.service.relay import ActionRelay
from ctibridge.service.role import Sources

log = logging.getLogger("ctibridge.actions")
audit = logging.getLogger("ctibridge.audit")  # one line per agent action: who, what, which call, result


class OperationRunner(Protocol):
    """Carries out one planned step; raises ``OperationFailed`` when the peer refuses it."""

    async def __call__(self, step: Step) -> None: ...


class OperationFailed(Exception):
    """GWS or AMI refused an operation; the message says which and why."""


class SourceOperations:
    """The real ``OperationRunner``: AMI steps on the owner's ``ChannelOperations``, GWS steps on
    the DN's agent session. ``sources`` is read per step (it changes on a takeover). GWS requests
    go to the event log here (the AMI client logs the actions it sends itself)."""

    def __init__(self, sources: Callable[[], Sources], log_writer: EventLogWriter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.sources, self.log_writer, self.clock = sources, log_writer, clock

    async def __call__(self, step: Step) -> None:
        sources = self.sources()
        try:
            if isinstance(step, AmiOp):
                if sources.channel_ops is None:
                    raise OperationFailed("no AMI connection on this instance")
                await _run_ami(sources.channel_ops, step)
            else:
                if sources.gws is None:
                    raise OperationFailed("no GWS sessions on this instance")
                params = OperationParams(destination=str((step.params.get("destination") or {})
                                                         .get("phoneNumber", "")),
                                         digits=str(step.params.get("dtmfDigits", "")))
                if self.log_writer is not None:  # "id": how the timeline ties it to the call
                    self.log_writer.write("gws", "out", {"operationName": step.operation, "id": step.call_id,
                                                         **step.params}, self.clock(), step.dn)
                await sources.gws.operations(step.dn).perform(step.operation, step.call_id, params)
        except (AmiError, GwsOperationError, KeyError, ValueError) as err:
            raise OperationFailed(str(err)) from err


async def _run_ami(ops: ChannelOperations, step: AmiOp) -> None:
    agent, trunk = step.agent_channel, step.trunk_channel
    match step.kind:
        case "hold":
            await ops.hold(trunk, agent)
        case "retrieve":
            await ops.retrieve(trunk, agent)
        case "blind_transfer":
            await ops.blind_transfer(agent, step.destination)
        case "consult_transfer":
            await ops.consult_transfer(agent, step.destination)
        case "complete_transfer":
            await ops.complete_transfer(agent)
        case "cancel_transfer":
            await ops.cancel_transfer(agent)
        case "hangup":
            await ops.hangup(agent or trunk)
        case "dtmf":
            await ops.dtmf(trunk or agent, step.digits)  # toward the customer when there is a trunk leg
        case _:
            raise ValueError(f"unknown AMI operation {step.kind!r}")


class ActionExecutor:
    def __init__(
        self,
        pipeline: Pipeline,
        run_step: OperationRunner,
        *,
        metrics: Metrics,
        is_owner: Callable[[], bool] = lambda: True,
        relay: ActionRelay | None = None,
        clock: Callable[[], float] = time.time,
        control: str = "auto",
        step_timeout_s: float = defaults.STEP_TIMEOUT_S,
        confirm_timeout_s: float = defaults.CONFIRM_TIMEOUT_S,
    ) -> None:
        self.pipeline, self.run_step = pipeline, run_step
        self.metrics, self.is_owner, self.relay = metrics, is_owner, relay
        self.clock, self.control = clock, control
        self.step_timeout_s, self.confirm_timeout_s = step_timeout_s, confirm_timeout_s

    async def execute(self, agent: Principal, msg: ActionMessage) -> ActionResult:
        """Run ``msg`` for ``agent`` (token claims: only calls of its DNs)."""
        started = time.monotonic()
        result = await self._execute(agent, msg)
        latency = time.monotonic() - started
        self.metrics.action_latency.labels(msg.action).observe(latency)
        self.metrics.action_outcomes.labels(msg.action, result.outcome).inc()
        view = self.pipeline.correlator.call(msg.call_id) or {}  # the owner's; a follower's has none
        audit.info("%s %s on %s: %s %s", agent.agent, msg.action, msg.call_id, result.outcome, result.detail,
                   extra={"agent": agent.agent, "action": msg.action, "call_id": msg.call_id,
                          "dn": str(view.get("dn", "")),
                          "params": msg.params.model_dump(exclude_none=True), "outcome": result.outcome,
                          "detail": result.detail, "latency_ms": round(latency * 1000, 1)})
        return result.model_copy(update={"id": msg.id, "latency_ms": round(latency * 1000, 1)})

    async def _execute(self, agent: Principal, msg: ActionMessage) -> ActionResult:
        if not self.is_owner():  # only the owner holds AMI and GWS
            if self.relay is None:
                return _result("failed", "this bridge instance is not the owner")
            deadline = 2 * self.step_timeout_s + self.confirm_timeout_s
            return await self.relay.request(agent, msg, deadline)
        view = self.pipeline.correlator.call(msg.call_id)
        if view is None:
            return _result("rejected", f"no live call {msg.call_id}")
        if str(view["dn"]) not in agent.dns:
            return _result("rejected", "not this agent's call")
        planned = plan(view, msg.action, msg.params.model_dump(exclude_none=True), self.control)
        if isinstance(planned, Rejection):
            return _result("rejected", planned.reason)
        return await self._carry_out(planned)

    async def repair(self, repair: Repair) -> None:
        """Carry out one repair the correlator decided (it already noted the operation)."""
        failure = await self._run_steps(repair.call_id, (repair.step,), note=False)
        kind = operation_kind(repair.step)
        self.metrics.repairs.labels(kind, "done" if failure is None else failure.outcome).inc()
        if failure is not None:
            log.warning("repair %s (%s) on %s: %s", kind, repair.rule, repair.call_id, failure.detail)

    async def _carry_out(self, planned: Plan) -> ActionResult:
        confirmed = asyncio.get_running_loop().create_future()

        def watch(delta: Delta) -> None:
            if str(delta.call.get("id")) != planned.call_id or confirmed.done():
                return
            if _shows(planned, None if delta.op is Op.REMOVED else delta.call):
                confirmed.set_result(None)

        # Registered before the first step, so a confirming delta cannot slip by.
        self.pipeline.listeners.append(watch)
        try:
            failure = await self._run_steps(planned.call_id, planned.steps)
            if failure is not None:
                return failure
            # The current view already reflects every delta processed while the steps ran.
            if not _shows(planned, self.pipeline.correlator.call(planned.call_id)):
                try:
                    await asyncio.wait_for(confirmed, self.confirm_timeout_s)
                except TimeoutError:
                    return _result("timeout", f"no confirming event within {self.confirm_timeout_s:g} s")
            return _result("confirmed", "")
        finally:
            self.pipeline.listeners.remove(watch)

    async def _run_steps(self, call_id: str, steps: tuple[Step, ...], *,
                         note: bool = True) -> ActionResult | None:
        """None when every step was accepted, else the failure."""
        for step in steps:
            if note:  # an agent's action; a repair was noted by the correlator that decided it
                self.pipeline.correlator.note_operation(call_id, operation_kind(step), self.clock())
            side = "AMI" if isinstance(step, AmiOp) else "GWS"
            try:
                await asyncio.wait_for(self.run_step(step), self.step_timeout_s)
            except OperationFailed as err:
                return _result("failed", f"{side}: {err}")
            except TimeoutError:
                return _result("failed", f"{side}: no answer within {self.step_timeout_s:g} s")
        return None


def _shows(planned: Plan, view: dict[str, Any] | None) -> bool:
    """The result is visible on both sides: the planned state, and the two sides agree on it."""
    in_sync = view is None or (view.get("sync") or {}).get("status") == "ok"
    return in_sync and planned.confirmed(view)


def _result(outcome: str, detail: str) -> ActionResult:
    return ActionResult(ok=outcome == "confirmed", outcome=outcome, detail=detail)  # type: ignore[arg-type]

