"""The event log rotates by size and by age, keeps only the configured number of rotated files,
and the rotated files replay as one log."""

from __future__ import annotations

from pathlib import Path

from ctibridge.logs.eventlog import EventLogWriter, Rotation, merge, read_records

DAY0 = 1_796_000_000.0  # a fixed UTC time: rotated names come from record times


def test_rotates_by_size_and_keeps_the_newest(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    writer = EventLogWriter(log, rotation=Rotation(max_bytes=2_000, keep=3))
    for n in range(400):  # ~60 bytes a record: ~12 rotations
        writer.write("ami", "in", {"Event": "Newstate", "n": n}, DAY0 + n * 10, "ami")
    writer.close()
    rotated = writer.rotated()
    assert len(rotated) == 3 and all(p.stat().st_size >= 2_000 for p in rotated)
    assert all(p.stat().st_size < 2_100 for p in [*rotated, log])
    kept = [r.msg["n"] for r in merge(read_records(p) for p in [*rotated, log])]
    assert kept == list(range(kept[0], 400)) and kept[0] > 0  # contiguous, the oldest deleted
    assert rotated[0].name.startswith("events.jsonl.20")  # named by the first record's UTC time


def test_rotates_by_age(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    writer = EventLogWriter(log, rotation=Rotation(max_age_s=3600, keep=10))
    for hour in range(5):
        for minute in (0, 30):
            writer.write("gws", "in", {"channel": "/x", "h": hour}, DAY0 + hour * 3600 + minute * 60, "5001")
    writer.close()
    files = [*writer.rotated(), log]
    assert len(files) == 5
    assert [[r.msg["h"] for r in read_records(p)] for p in files] == [[h, h] for h in range(5)]


def test_no_rotation_without_limits(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    writer = EventLogWriter(log, rotation=Rotation())
    for n in range(1000):
        writer.write("ami", "in", {"n": n}, DAY0 + n * 3600, "ami")
    writer.close()
    assert writer.rotated() == [] and len(list(read_records(log))) == 1000
