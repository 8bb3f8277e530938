"""The regression suite: every recorded log replays to the unified states stored beside it.

``tests/recordings/<scenario>.jsonl`` is an event log (real Asterisk 22 AMI + GWS messages);
``<scenario>.expected.jsonl`` holds one compact row per delta the correlator must produce. A bug
seen in production becomes a test by adding its recorded log and the rows it should give.
Regenerate the rows after an intended change with ``CTIBRIDGE_UPDATE_EXPECTED=1 pytest ...`` and
review the diff.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ctibridge.core.deltas import Delta
from ctibridge.logs.eventlog import read_records
from ctibridge.logs.replay import replay

RECORDINGS = Path(__file__).parent.parent / "recordings"
LOGS = sorted(p for p in RECORDINGS.glob("*.jsonl") if not p.name.endswith(".expected.jsonl"))
CAPTURES = sorted((RECORDINGS / "asterisk-22").glob("*.ami.txt"))


def row(delta: Delta) -> dict[str, Any]:
    call = delta.call
    return {
        "dn": delta.dn, "seq": delta.seq, "op": delta.op.value, "id": call["id"], "state": call["state"],
        "genesys": (call["genesys"] or {}).get("state"), "asterisk": (call["asterisk"] or {}).get("state"),
        "sync": call["sync"]["status"], "rule": call["sync"]["rule"], "uuid": call["call_uuid"],
        "actions": call["actions"],
    }


def states(deltas: list[Delta], call_id: str | None = None) -> list[str]:
    """The unified state sequence, consecutive repeats folded."""
    out: list[str] = []
    for d in deltas:
        if call_id is None or d.call["id"] == call_id:
            if not out or out[-1] != d.call["state"]:
                out.append(d.call["state"])
    return out


def run(path: Path) -> list[Delta]:
    return replay(read_records(path), settle=5.0).deltas


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_log_replays_to_expected_states(log: Path) -> None:
    expected_path = log.with_suffix(".expected.jsonl")
    rows = [row(d) for d in run(log)]
    if os.environ.get("CTIBRIDGE_UPDATE_EXPECTED"):
        expected_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    expected = [json.loads(line) for line in expected_path.read_text().splitlines() if line.strip()]
    assert rows == expected


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_every_log_ends_with_no_live_call_and_gap_free_sequences(log: Path) -> None:
    result = replay(read_records(log), settle=5.0)
    assert result.correlator.calls() == []
    last: dict[str, int] = {}
    for d in result.deltas:
        assert d.seq == last.get(d.dn, 0) + 1
        last[d.dn] = d.seq


def test_inbound_answered() -> None:
    deltas = run(RECORDINGS / "inbound_answered.jsonl")
    assert {d.call["id"] for d in deltas} == {"5001-1"}
    assert states(deltas) == ["ringing", "established", "released"]
    final = deltas[-1].call
    assert deltas[-1].op.value == "removed"
    assert final["call_uuid"] == "CHWY4OGENZHJDGFBKE3MGX4YEA021332"
    assert final["user_data"]["CustomerName"] == "José Müller"
    assert final["asterisk"]["hangup_cause"] == 16
    assert all(d.call["sync"]["status"] != "diverged" for d in deltas)
    established = next(d.call for d in deltas
                       if d.call["state"] == "established" and d.call["sync"]["status"] == "ok")
    assert established["actions"] == ["hangup", "hold", "blind_transfer", "consult_transfer", "dtmf"]
    assert {c["role"] for c in established["asterisk"]["channels"]} == {"agent", "trunk"}


def test_hold_retrieve_from_genesys() -> None:
    deltas = run(RECORDINGS / "hold_retrieve_genesys.jsonl")
    assert states(deltas) == ["ringing", "established", "held", "established", "released"]
    held = next(d.call for d in deltas if d.call["state"] == "held")
    assert held["asterisk"]["held"] is True
    assert "retrieve" in held["actions"] and "hold" not in held["actions"]


def test_abandon_never_established() -> None:
    deltas = run(RECORDINGS / "abandon_ringing.jsonl")
    assert states(deltas) == ["ringing", "released"]
    assert deltas[-1].call["asterisk"]["hangup_cause"] == 127


def test_outbound_joined_by_fallback_without_call_uuid_on_asterisk() -> None:
    deltas = run(RECORDINGS / "outbound.jsonl")
    assert {d.call["id"] for d in deltas} == {"5001-1"}
    assert states(deltas) == ["dialing", "established", "released"]
    both = [d.call for d in deltas if d.call["genesys"] and d.call["asterisk"]]
    assert both and both[0]["direction"] == "outbound" and both[0]["remote"]["number"] == "5002"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name.split(".")[0])
def test_raw_captures_replay_without_errors(capture: Path) -> None:
    """Raw AMI captures (no GWS side) replay as Asterisk-only calls, in sync, to the end."""
    result = replay(read_records(capture), settle=5.0)
    assert not result.correlator.stats.parse_errors
    assert result.correlator.calls() == []
    assert all(d.call["sync"]["status"] == "ok" for d in result.deltas)


def test_paired_logs_are_reproducible_from_their_sources() -> None:
    sys.path.insert(0, str(RECORDINGS))
    import build_paired  # tests/recordings/build_paired.py

    template = json.loads(build_paired.TEMPLATE.read_text())
    for name, records in build_paired.all_logs(template).items():
        built = "".join(r.to_json() + "\n" for r in records)
        assert built == (RECORDINGS / f"{name}.jsonl").read_text(encoding="utf-8"), name


def test_blind_transfer_moves_the_customer_to_another_dn() -> None:
    deltas = run(RECORDINGS / "asterisk-blind-transfer-to-another-dn.jsonl")
    first = [d for d in deltas if d.dn == "5001"]
    second = [d for d in deltas if d.dn == "5002"]
    assert states(first) == ["ringing", "established", "transferring", "released"]
    assert states(second)[0] == "ringing" and "established" in states(second)
    assert second[-1].call["remote"]["name"] == "José Müller"  # the same customer, now on 5002
    assert first[-1].call["call_uuid"] == second[-1].call["call_uuid"]


def test_consult_transfer_completed_and_cancelled() -> None:
    done = [d for d in run(RECORDINGS / "asterisk-consult-transfer-completed.jsonl") if d.dn == "5001"]
    assert "transferring" in states(done) and states(done)[-1] == "released"
    cancelled = [d for d in run(RECORDINGS / "asterisk-consult-transfer-cancelled.jsonl") if d.dn == "5001"]
    after = states(cancelled)[states(cancelled).index("transferring"):]
    assert "established" in after  # back with the customer after the cancel


def test_a_transfer_target_gets_the_customers_call() -> None:
    """After a transfer done by Asterisk (consult: Atxfer then AttendedTransfer; blind) the target
    DN's call carries the customer (number, name, CallUUID) and links the transferer's call; after
    one done by Genesys, Genesys reports the same (number, CallUUID, user data) for the target DN."""
    for name in ("asterisk-consult-transfer-completed", "asterisk-blind-transfer-to-another-dn"):
        deltas = run(RECORDINGS / f"{name}.jsonl")
        first, target = ([d.call for d in deltas if d.dn == dn][-1] for dn in ("5001", "5002"))
        assert target["remote"] == first["remote"] and target["remote"]["name"] == "José Müller", name
        assert target["call_uuid"] == first["call_uuid"] and target["parent_id"] == first["id"], name
    cancelled = run(RECORDINGS / "asterisk-consult-transfer-cancelled.jsonl")
    assert all(d.call["remote"]["number"] is None and d.call["parent_id"] is None
               for d in cancelled if d.dn == "5002")  # only consulted: never had the customer
    genesys = [d.call for d in run(RECORDINGS / "blind_transfer_genesys.jsonl") if d.dn == "5002"]
    assert genesys[-1]["remote"]["number"] == "+15550001000" and genesys[-1]["call_uuid"]
    assert genesys[-1]["user_data"]["CustomerName"] == "José Müller"


def test_hold_and_retrieve_through_the_bridge() -> None:
    deltas = run(RECORDINGS / "asterisk-hold-then-retrieve.jsonl")
    assert states(deltas) == ["ringing", "established", "held", "established", "released"]
    held_at = next(i for i, d in enumerate(deltas) if d.call["state"] == "held")
    retrieved = next(d.call for d in deltas[held_at:] if d.call["state"] == "established")
    assert retrieved["asterisk"]["bridge_id"] and not retrieved["asterisk"]["held"]


def test_a_call_being_hung_up_never_shows_held() -> None:
    """HangupRequest/SoftHangupRequest, BridgeLeave of both legs, Hangup: after a hold by Redirect
    and a retrieve by Bridge (the legs still report the hold context), and after the customer's
    own hold inside the Asterisk bridge, the call goes from established straight to released."""
    for name in ("asterisk-hold-then-retrieve",  # the agent's leg hung up by AMI
                 "asterisk-held-and-retrieved-then-the-customer-hangs-up",
                 "asterisk-held-in-the-bridge-then-hung-up"):
        assert states(run(RECORDINGS / f"{name}.jsonl"))[-2:] == ["established", "released"], name


def test_restart_and_ami_loss_end_the_calls_they_killed() -> None:
    for name in ("asterisk-restarted-mid-call", "asterisk-call-events-then-resync-after-ami-loss"):
        result = replay(read_records(RECORDINGS / f"{name}.jsonl"), settle=5.0)
        assert result.correlator.calls() == [], name
        assert result.deltas[-1].op.value == "removed", name


def test_blind_transfer_done_by_genesys_keeps_the_call_uuid_across_dns() -> None:
    deltas = run(RECORDINGS / "blind_transfer_genesys.jsonl")
    by_dn = {dn: [d for d in deltas if d.dn == dn] for dn in ("5001", "5002")}
    for dn, mine in by_dn.items():
        assert states(mine) == ["ringing", "established", "released"], dn
        assert mine[-1].call["sync"]["status"] == "ok"
    assert by_dn["5001"][-1].call["call_uuid"] == by_dn["5002"][-1].call["call_uuid"]
    assert by_dn["5001"][-1].t < by_dn["5002"][0].t  # the customer left 5001 before reaching 5002


def test_gws_reconnect_rereads_the_calls() -> None:
    kept = run(RECORDINGS / "gws_reconnect_call_up.jsonl")
    assert states(kept) == ["ringing", "established", "released"]
    assert not any(d.call["sync"]["status"] == "diverged" for d in kept)
    records = list(read_records(RECORDINGS / "gws_reconnect_call_ended.jsonl"))
    reread = next(r.t for r in records if "rest" in r.msg)
    ended = run(RECORDINGS / "gws_reconnect_call_ended.jsonl")
    assert ended[-1].op.value == "removed" and ended[-1].t == reread  # known ended only once re-read
    assert ended[-1].call["genesys"]["state"] == "Released"
