"""`ctibridge wwe-options`: the web-content options WWE needs to host the widget, and what it refuses."""

from __future__ import annotations

import json

import pytest

from ctibridge.cli import main as cli
from ctibridge.gateway.wwe_options import OptionsError, render_cfg, wwe_options
from ctibridge.sim.wwe import content_security_policy


def test_options_name_the_web_content_and_accept_only_the_widget_origin() -> None:
    options = wwe_options("https://cti.example.com/widget/", ["https://wwe.example.com"],
                          data_keys=["Segment", "AccountId"])
    assert options == {
        "interaction-workspace": {
            "workspace.web-content": "CtiBridgePhone",
            "service-client-api.accepted-web-content-origins": "https://cti.example.com",
        },
        "CtiBridgePhone": {
            "label": "Phone",
            "url": "https://cti.example.com/widget/?wweOrigins=https://wwe.example.com&dataKeys=Segment,AccountId",
        },
    }
    assert render_cfg(options).splitlines() == [
        "[interaction-workspace]",
        "workspace.web-content=CtiBridgePhone",
        "service-client-api.accepted-web-content-origins=https://cti.example.com",
        "",
        "[CtiBridgePhone]",
        "label=Phone",
        "url=https://cti.example.com/widget/?wweOrigins=https://wwe.example.com&dataKeys=Segment,AccountId",
    ]


@pytest.mark.parametrize(("url", "origins", "why"), [
    ("https://cti.example.com/widget/?token=abc", ["https://wwe.example.com"], "must not carry token"),
    ("https://cti.example.com/widget/?dn=5001&sipPassword=x", ["https://wwe.example.com"], "sipPassword"),
    ("http://cti.example.com/widget/", ["https://wwe.example.com"], "use https"),
    ("https://cti.example.com/widget/", ["http://wwe.example.com"], "use https"),
    ("https://cti.example.com/widget/", [], "at least one WWE origin"),
    ("ftp://cti.example.com/widget/", ["https://wwe.example.com"], "not an http"),
])
def test_unsafe_options_are_refused(url: str, origins: list[str], why: str) -> None:
    with pytest.raises(OptionsError, match=why):
        wwe_options(url, origins)


def test_command_prints_json_and_refuses_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["wwe-options", "--widget-url", "http://127.0.0.1:8080/widget/", "--wwe-origin",
                "http://127.0.0.1:9090", "--label", "Softphone", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["CtiBridgePhone"]["label"] == "Softphone"
    assert cli(["wwe-options", "--widget-url", "https://cti.example.com/w/?jwt=x", "--wwe-origin",
                "https://wwe.example.com"]) == 2
    assert "secrets never go in a URL" in capsys.readouterr().err


def test_the_stand_in_frames_only_its_web_content() -> None:
    options = wwe_options("https://cti.example.com/widget/", ["https://wwe.example.com"])
    assert content_security_policy(options) == (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "frame-src https://cti.example.com")
    assert content_security_policy({}).endswith("frame-src 'none'")
