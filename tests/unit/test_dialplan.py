"""The dialplan names have one home (ctibridge.core.dialplan): the generated configuration and every
module that speaks of a context or a tracked variable take them from there."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ctibridge.core import dialplan
from ctibridge.gateway.generator import render
from ctibridge.gateway.settings import GatewaySettings

PACKAGE = Path(__file__).resolve().parents[2] / "ctibridge"
EXEMPT = {"dialplan.py"}
NAMES = (dialplan.HOLD_CONTEXT, dialplan.TRANSFER_CONTEXT, *dialplan.TRACKED_VARS)


def _lab() -> GatewaySettings:
    return GatewaySettings(profile="lab", dns=["5001"], genesys_host="127.0.0.2",
                           webrtc_secret="w" * 16, ami_secret="a" * 16)


def test_generated_configuration_uses_the_names() -> None:
    files = render(_lab())
    ext = files["extensions.conf"]
    assert f"[{dialplan.HOLD_CONTEXT}]\nexten => {dialplan.HOLD_MUSIC_EXTEN},1,Answer()" in ext
    assert f"exten => {dialplan.HOLD_PARK_EXTEN},1,Wait(3600)" in ext
    assert f"[{dialplan.TRANSFER_CONTEXT}]" in ext
    for var in dialplan.TRACKED_VARS:
        assert f"Set({dialplan.inherited(var)}=" in ext
    assert f"channelvars={','.join(dialplan.TRACKED_VARS)}\n" in files["manager.conf"]


def test_no_template_spells_a_name_itself() -> None:
    templates = resources.files("ctibridge.gateway").joinpath("templates")
    for template in templates.iterdir():
        text = template.read_text(encoding="utf-8")
        assert not [name for name in NAMES if name in text], template.name


def test_no_module_outside_the_home_spells_a_name() -> None:
    # Prose (docstrings, comments) may name them; a string literal in code may not.
    names = "|".join(map(re.escape, NAMES))
    literal = re.compile(rf"""["'](?:__)?({names})["'=]""")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if path.name not in EXEMPT
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if literal.search(line.split("#", 1)[0])
    ]
    assert offenders == []
