"""When Genesys and Asterisk disagree: the rule table.

Each rule names one kind of disagreement between the Genesys state ``g`` and the Asterisk state
``a`` of a call (``None`` = that side does not know the call). A disagreement first makes the call
``pending``; if it lasts longer than the grace period the call becomes ``diverged`` with the rule's
id, the divergence is counted, and, if the rule has a repair and it is enabled, the correlator asks
the service to carry it out (``Repair``). ``docs/divergence.md`` is generated from ``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ctibridge.core.actions import AmiOp, GwsOp, OperationKind, ami_step
from ctibridge.core.model import LIVE_STATES, Call, State, Sync

S = State | None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: str  # human-readable condition, for the docs
    detail: str  # shown to the agent in the widget
    repair: str | None  # operation kind carried out on the other side, see core.actions
    repair_default: bool
    matches: Callable[[S, S, Call], bool]


def _live(s: S) -> bool:
    return s in LIVE_STATES


RULES: tuple[Rule, ...] = (
    Rule("genesys_only", "Genesys has a live call, Asterisk has no channel for it",
         "Genesys reports this call but the gateway has no channel for it", None, False,
         lambda g, a, c: _live(g) and a is None),
    Rule("asterisk_only", "Asterisk has live channels, Genesys does not know the call",
         "The gateway carries this call but Genesys does not report it", None, False,
         lambda g, a, c: _live(a) and g is None),
    Rule("asterisk_gone", "Genesys live (not ringing), every Asterisk channel of the DN is gone",
         "The audio leg has ended but Genesys still shows the call", OperationKind.GWS_HANGUP, False,
         lambda g, a, c: _live(g) and g is not State.RINGING and a is State.RELEASED),
    Rule("genesys_released", "Genesys Released, the Asterisk channels are still up",
         "Genesys released the call but the audio leg is still up", OperationKind.AMI_HANGUP, True,
         lambda g, a, c: g is State.RELEASED and _live(a)),
    Rule("held_in_genesys_only", "Genesys Held, Asterisk not holding",
         "Held in Genesys, but the customer is not on hold on the gateway", OperationKind.AMI_HOLD, True,
         lambda g, a, c: g is State.HELD and a is State.ESTABLISHED),
    Rule("held_in_asterisk_only", "Genesys Established, Asterisk holding (repaired only when the bridge "
         "made that hold)", "On hold on the gateway, but Genesys shows the call established",
         OperationKind.AMI_RETRIEVE, True, lambda g, a, c: g is State.ESTABLISHED and a is State.HELD),
    Rule("state_mismatch", "any other difference",
         "Genesys and the gateway disagree about this call", None, False,
         lambda g, a, c: True),
)

# Pairs that are the same situation seen from two sides.
EQUIVALENT: frozenset[tuple[State, State]] = frozenset({
    (State.DIALING, State.RINGING),  # Genesys 3pcc MakeCall first rings the agent's own DN
    (State.RINGING, State.RELEASED),  # abandoned while ringing: Asterisk may finish first
    (State.HELD, State.TRANSFERRING),  # Asterisk-side consult transfer: the customer waits
    (State.ESTABLISHED, State.TRANSFERRING),
})


def agree(g: S, a: S, expect_genesys: bool, expect_asterisk: bool) -> bool:
    if g is None:
        return not expect_genesys
    if a is None:
        return not expect_asterisk
    return g == a or (g, a) in EQUIVALENT


def classify(call: Call) -> Rule:
    g, a = call.genesys_state(), call.asterisk_state()
    for rule in RULES:
        if rule.matches(g, a, call):
            return rule
    raise AssertionError("state_mismatch matches everything")


@dataclass(frozen=True, slots=True)
class Repair:
    """An automatic repair the divergence rules ask the service to carry out."""

    call_id: str
    dn: str
    rule: str
    step: AmiOp | GwsOp
    t: float


def evaluate(call: Call, t: float, expect_genesys: bool, expect_asterisk: bool, grace: float) -> Rule | None:
    """Bring ``call.sync`` up to date at ``t``; the rule when the call has just become diverged."""
    g, a = call.genesys_state(), call.asterisk_state()
    if agree(g, a, expect_genesys, expect_asterisk):
        if call.sync.status != "ok":
            call.sync = Sync(status="ok", since=t)
        return None
    rule = classify(call)
    if call.sync.disagree_since is None or call.sync.rule != rule.id:
        call.sync = Sync(status="pending", rule=rule.id, detail=rule.detail, since=t, disagree_since=t)
    sync = call.sync
    assert sync.disagree_since is not None
    if sync.status == "pending" and t - sync.disagree_since >= grace:
        sync.status, sync.since = "diverged", t
        return rule
    return None


def repair_for(call: Call, rule: Rule, t: float, enabled: frozenset[str], timeout: float) -> Repair | None:
    """The repair a newly diverged call needs, noted on the call as pending for ``timeout``."""
    if not _repair_wanted(rule, call, enabled):
        return None
    assert rule.repair is not None
    step: AmiOp | GwsOp | str
    if rule.repair == OperationKind.GWS_HANGUP:
        assert call.genesys is not None
        step = GwsOp(call.dn, call.genesys.call.id, "Hangup")
    else:
        step = ami_step(call.view(), rule.repair.removeprefix("ami_"))
    if isinstance(step, str):
        return None  # the call lacks the channels the operation needs
    call.pending_ops[rule.repair] = t + timeout
    call.agent_hold = False
    return Repair(call.id, call.dn, rule.id, step, t)


def _repair_wanted(rule: Rule, call: Call, enabled: frozenset[str]) -> bool:
    if rule.repair is None or rule.id not in enabled or rule.repair in call.pending_ops:
        return False
    if rule.id == "held_in_asterisk_only":
        # Only undo a hold the bridge made to follow Genesys; a party's own SIP hold, or a hold the
        # agent asked of the gateway alone, is theirs to lift.
        return call.asterisk is not None and call.asterisk.held_by_bridge() and not call.agent_hold
    return True


def default_repairs() -> frozenset[str]:
    return frozenset(rule.id for rule in RULES if rule.repair_default)
