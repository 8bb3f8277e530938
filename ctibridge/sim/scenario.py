"""The scenario language: one TOML (or JSON) file drives Genesys and Asterisk on one timeline.

A scenario is a list of steps, each at a time in seconds from the start (``at = 1.2``)::

    name = "inbound_answered"
    summary = "Genesys offers a call to 5001, the agent answers, the customer hangs up"

    [[steps]]
    at = 0.0
    kind = "inbound_call"
    call = "c1"                 # the scenario's own handle for the call
    dn = "5001"
    caller = "+15550001000"

    [[steps]]
    at = 1.5
    kind = "answer"
    call = "c1"

The step kinds and their fields are the models below; ``docs/scenarios.md`` explains each with
what both simulators emit. Files parse with ``load_scenario(path)``; bad files fail with the
step number and field named.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SCENARIO_DIR = Path(__file__).parent / "scenarios"

Side = Literal["genesys", "asterisk"]
Only = Literal["both", "genesys", "asterisk"]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float = Field(ge=0)


class _CallStep(_Step):
    call: str = Field(min_length=1)


class InboundCall(_CallStep):
    """Genesys offers a call to ``dn`` (GWS Ringing; the trunk INVITE rings the agent leg)."""

    kind: Literal["inbound_call"]
    dn: str = Field(pattern=r"^\d+$")
    caller: str = "+15550001000"
    caller_name: str = ""
    call_uuid: str = ""  # empty: a fresh one each run
    user_data: dict[str, Any] = {}
    only: Only = "both"  # a side that never reports this call


class OutboundCall(_CallStep):
    """The agent dials ``destination`` (Asterisk from-webrtc Dial to the trunk; GWS Dialing)."""

    kind: Literal["outbound_call"]
    dn: str = Field(pattern=r"^\d+$")
    destination: str = Field(pattern=r"^\+?\d+$")
    only: Only = "both"


class Answer(_CallStep):
    """The called party answers: the agent (inbound) or the far end (outbound)."""

    kind: Literal["answer"]


class Hold(_CallStep):
    """``side = "genesys"``: WWE hold (GWS Held, trunk re-INVITE Hold). ``"asterisk"``: the
    gateway holds (dual Redirect to ctibridge-hold, MusicOnHoldStart), Genesys follows."""

    kind: Literal["hold", "retrieve"]
    side: Side = "genesys"


class Transfer(_CallStep):
    """``blind_transfer``/``consult_transfer`` to ``destination``. A destination that is a
    simulated agent DN gets the call under the handle ``target``, ringing (answer it with a step)."""

    kind: Literal["blind_transfer", "consult_transfer"]
    destination: str = Field(pattern=r"^\+?\d+$")
    side: Side = "genesys"
    target: str = ""


class EndConsultation(_CallStep):
    """``complete`` the consultation transfer, or ``cancel`` it (back to the customer)."""

    kind: Literal["complete", "cancel"]
    side: Side = "genesys"


class Hangup(_CallStep):
    kind: Literal["hangup"]
    by: Literal["customer", "agent"] = "customer"


class Abandon(_CallStep):
    """The customer gives up while the agent's phone rings (trunk CANCEL, GWS Released)."""

    kind: Literal["abandon"]


class Fault(_Step):
    """``drop_gws_sessions`` (Bayeux clients forgotten: 402), ``restart_gws`` (sessions gone too),
    ``ami_disconnect`` (TCP EOF, Asterisk stays up), ``ami_restart`` (Shutdown, EOF, fresh boot)."""

    kind: Literal["drop_gws_sessions", "restart_gws", "ami_disconnect", "ami_restart"]


class Delay(_Step):
    """From now on, everything ``side`` reports arrives ``ms`` later (0 ends the delay)."""

    kind: Literal["delay"]
    side: Side
    ms: int = Field(ge=0, le=60_000)


Step = Annotated[
    InboundCall
    | OutboundCall
    | Answer
    | Hold
    | Transfer
    | EndConsultation
    | Hangup
    | Abandon
    | Fault
    | Delay,
    Field(discriminator="kind"),
]


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    summary: str = ""
    dns: list[str] = ["5001", "5002"]  # the agents the scenario needs
    tail: float = Field(default=1.0, ge=0)  # seconds to keep running after the last step
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _calls_exist(self) -> Scenario:
        known: set[str] = set()
        for n, step in enumerate(self.steps, 1):
            if isinstance(step, InboundCall | OutboundCall):
                known.add(step.call)
            elif isinstance(step, _CallStep) and step.call not in known:
                raise ValueError(f"step {n} ({step.kind}): call {step.call!r} was not started before")
            if isinstance(step, Transfer) and step.target:
                known.add(step.target)
        if [s.at for s in self.steps] != sorted(s.at for s in self.steps):
            raise ValueError("steps must be in time order")
        return self

    @property
    def duration(self) -> float:
        return self.steps[-1].at + self.tail


class ScenarioError(ValueError):
    pass


def parse_scenario(data: dict[str, Any], origin: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'scenario'}: {e['msg']}" for e in err.errors()
        )
        raise ScenarioError(f"{origin}: {problems}") from None


def load_scenario(path: str | Path) -> Scenario:
    """A ``.toml`` or ``.json`` scenario file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    return parse_scenario(data, str(path))


def bundled_scenarios() -> list[Scenario]:
    """Every scenario shipped in ``ctibridge/sim/scenarios``, by file name."""
    return [load_scenario(p) for p in sorted(SCENARIO_DIR.glob("*.toml"))]
