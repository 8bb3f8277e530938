"""The AMI actions of each channel operation (what Asterisk 22 is sent), and input that must never
reach the wire: a Hangup ``Channel: /regex/`` would hang up every matching channel, and a CR/LF
in a value would inject headers."""

from __future__ import annotations

import pytest

from ctibridge.ami.operations import (
    blind_transfer_action,
    consult_transfer_action,
    dtmf_actions,
    hangup_action,
    hold_action,
    retrieve_action,
)

TRUNK, AGENT = "PJSIP/genesys-00000001", "PJSIP/5001-00000002"


def test_hold_is_one_dual_redirect_to_the_hold_context() -> None:
    assert hold_action(TRUNK, AGENT) == {
        "Action": "Redirect", "Channel": TRUNK, "Context": "ctibridge-hold", "Exten": "moh", "Priority": "1",
        "ExtraChannel": AGENT, "ExtraContext": "ctibridge-hold", "ExtraExten": "park", "ExtraPriority": "1",
    }  # fmt: skip


def test_retrieve_transfer_and_dtmf_actions() -> None:
    bridge = {"Action": "Bridge", "Channel1": TRUNK, "Channel2": AGENT, "Tone": "no"}
    assert retrieve_action(TRUNK, AGENT) == bridge
    assert blind_transfer_action(AGENT, "5002")["Context"] == "ctibridge-xfer"
    assert consult_transfer_action(AGENT, "+15550001000")["Action"] == "Atxfer"
    assert [a["Digit"] for a in dtmf_actions(TRUNK, "1*#")] == ["1", "*", "#"]
    assert hangup_action("Local/5002@ctibridge-xfer-00000000;1")["Channel"].endswith(";1")


@pytest.mark.parametrize(
    "build",
    [
        lambda: hangup_action("/PJSIP/.*/"),
        lambda: hangup_action("PJSIP/5001-1\r\nAction: Originate"),
        lambda: hold_action(TRUNK, ""),
        lambda: blind_transfer_action(AGENT, "5002\r\nContext: default"),
        lambda: consult_transfer_action(AGENT, "sip:x@y"),
        lambda: dtmf_actions(TRUNK, "12x"),
    ],
)
def test_unsafe_input_is_refused_before_sending(build: object) -> None:
    with pytest.raises(ValueError, match="invalid"):
        build()  # type: ignore[operator]
