"""`ctibridge replay` as an operator uses it: any capture in, a timeline (text, JSON, HTML) out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctibridge.cli import main

RECORDINGS = Path(__file__).parent.parent / "recordings"


def test_replay_prints_the_timeline_of_a_raw_capture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(RECORDINGS / "asterisk-22" / "b_hold.ami.txt")]) == 0
    out = capsys.readouterr().out
    assert " held " in out and " removed " in out and "parse errors 0" in out


def test_replay_json_merges_two_files_and_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = RECORDINGS / "inbound_answered.jsonl"
    gws_only = tmp_path / "gws.jsonl"
    ami_only = tmp_path / "ami.jsonl"
    lines = log.read_text().splitlines()
    gws_only.write_text("\n".join(x for x in lines if '"src":"gws"' in x) + "\n")
    ami_only.write_text("\n".join(x for x in lines if '"src":"ami"' in x) + "\n")
    html = tmp_path / "ladder.html"
    args = ["replay", "--json", "--dn", "5001", "--timeline", str(html), str(ami_only), str(gws_only)]
    assert main(args) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    deltas = [r for r in rows if r["type"] == "delta"]
    assert deltas and {d["dn"] for d in deltas} == {"5001"}
    assert deltas[-1]["op"] == "removed"
    assert deltas[-1]["call"]["call_uuid"] == "CHWY4OGENZHJDGFBKE3MGX4YEA021332"
    assert rows[-1]["type"] == "summary" and rows[-1]["parse_errors"] == {}
    assert "<svg" in html.read_text() or "<html" in html.read_text().lower()


def test_replay_counts_malformed_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0, "src": "gws", "dir": "in", "msg": {"channel": "/v2/me/calls", "data": 5}}\n'
                   "not json at all\n")
    assert main(["replay", str(bad)]) == 0
    assert "parse errors {'gws': 1, 'log': 1}" in capsys.readouterr().out
