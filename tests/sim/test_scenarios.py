"""The scenario language: every bundled file loads and plays through both simulators; bad files
are refused with the step and field named; JSON works as well as TOML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctibridge.sim.ami import AmiSimulator
from ctibridge.sim.gws import GwsSimulator, SimAgent
from ctibridge.sim.runner import ScenarioRunner
from ctibridge.sim.scenario import (
    SCENARIO_DIR,
    ScenarioError,
    bundled_scenarios,
    load_scenario,
    parse_scenario,
)

RACES = {"race_hold_during_transfer"}  # steps that may lose their race by design


def test_every_flow_has_a_bundled_scenario() -> None:
    names = {s.name for s in bundled_scenarios()}
    assert {
        "inbound_answered",
        "outbound",
        "hold_retrieve",
        "abandon",
        "blind_transfer",
        "consult_transfer_completed",
        "consult_transfer_cancelled",
        "race_hold_during_transfer",
        "reconnects",
        "one_side_only",
    } <= names
    for path in SCENARIO_DIR.glob("*.toml"):
        assert load_scenario(path).name == path.stem


@pytest.mark.parametrize("scenario", bundled_scenarios(), ids=lambda s: s.name)
async def test_bundled_scenario_plays_on_both_simulators(scenario) -> None:  # type: ignore[no-untyped-def]
    gws = GwsSimulator([SimAgent(f"agent{dn}", "pw", dn) for dn in ("5001", "5002")])
    await gws.start()
    ami = AmiSimulator(agent_dns=frozenset({"5001", "5002"}))
    await ami.start()
    try:
        runner = ScenarioRunner(gws, ami, speed=50.0)
        await runner.play(scenario)
        if scenario.name not in RACES:
            assert runner.errors == []
        if scenario.name not in RACES | {"blind_transfer", "consult_transfer_completed"}:
            assert not ami.pbx.channels and not gws.calls  # every call ended on both sides
    finally:
        await ami.stop()
        await gws.stop()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "steps": [{"at": 0, "kind": "answer", "call": "c1"}]}, "call 'c1' was not started"),
        ({"name": "x", "steps": [{"at": 0, "kind": "teleport"}]}, "steps.0"),
        (
            {"name": "x", "steps": [{"at": 0, "kind": "inbound_call", "call": "c", "dn": "50a1"}]},
            "steps.0.inbound_call.dn",
        ),
        (
            {
                "name": "x",
                "steps": [{"at": 2, "kind": "ami_disconnect"}, {"at": 1, "kind": "ami_disconnect"}],
            },
            "time order",
        ),
        (
            {"name": "x", "steps": [{"at": 0, "kind": "delay", "side": "genesys", "ms": 1, "extra": 1}]},
            "extra",
        ),
    ],
)
def test_bad_scenarios_are_refused_with_the_place(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(data)


def test_json_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {
                "name": "mine",
                "steps": [
                    {"at": 0, "kind": "inbound_call", "call": "c", "dn": "5001"},
                    {"at": 1, "kind": "abandon", "call": "c"},
                ],
            }
        )
    )
    scenario = load_scenario(path)
    assert [s.kind for s in scenario.steps] == ["inbound_call", "abandon"] and scenario.duration == 2.0
