"""The soak's short form (the full one: ``python -m bench.soak``, 300 calls, 1,000 widgets, 10 min).

30 agent DNs with a call each per round (offered, answered, held and retrieved in WWE or through
the gateway, hung up), 100 real WebSocket widgets, the real service on the memory store, the GWS
and AMI simulators driven by the scenario runner; one fault of each kind on the schedule (AMI
connection cut and Asterisk restarted mid-call, GWS Bayeux clients dropped and GWS restarted) and
a tenth of the widgets dropping and resuming every round. See bench/soak.py for what is checked.
"""

from __future__ import annotations

from bench.soak import FAULTS, Options, soak

# Retained bytes per call played (the slope of memory over the rounds; round 1 is warm-up).
# Bounded memories still filling in a short run (the correlator remembers its last 10,000 ended
# channels and calls to ignore their late events) cost about 1 KiB a call; one leaked call costs
# tens of KiB (its view, channels, indexes and logged deltas).
GROWTH_PER_CALL_LIMIT = 8 * 1024


async def test_soak_short_form_loses_nothing_and_stays_flat() -> None:
    report = await soak(Options(calls=30, clients=100, rounds=8, speed=2.0, seed=3))
    print("\n".join(line for line in report.lines() if line))
    assert set(report.faults) == set(FAULTS.values())
    assert report.widget_reconnects >= 8 * 10 and report.resumes >= report.widget_reconnects
    assert report.problems == [], report.problems[:10]  # every widget: no gap, no duplicate
    assert report.truth_misses == [], report.truth_misses[:10]  # correlation = ground truth
    assert report.fold_diff == [], report.fold_diff[:10]  # each widget's view = the bridge's state
    assert report.resync_diff == [], report.resync_diff[:10]  # the bridge's state = a fresh resync's
    assert report.deltas_received > report.calls_played * 3
    assert report.growth_per_call < GROWTH_PER_CALL_LIMIT, report.memory


def test_the_soak_widget_notices_a_gap_a_duplicate_and_a_bad_resume() -> None:
    from bench.soak import Client

    call = {"id": "1", "call_uuid": "U", "state": "ringing", "sync": {"status": "ok"}}
    client = Client("60000", "token")
    client.on_frame({"type": "snapshot", "epoch": "e", "seq": 4, "calls": []})
    for seq in (5, 7, 7):
        client.on_frame({"type": "delta", "seq": seq, "op": "created", "call": call})
    client.on_frame({"type": "resume", "epoch": "e", "from_seq": 9})
    assert client.problems == ["60000: gap: seq 7 after 5", "60000: duplicate: seq 7 after 7",
                               "60000: resume {'type': 'resume', 'epoch': 'e', 'from_seq': 9} after seq 7"]
