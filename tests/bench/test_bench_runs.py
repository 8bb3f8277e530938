"""Every benchmark still runs: ``python -m bench.run --quick --only NAME`` prints its rows.

Not a timed test: quick mode uses tiny loads and one run, so its figures mean nothing; this only
keeps the benchmarks working as the code they measure changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "throughput": ("throughput.panoramisk", "throughput.core ", "throughput.core_vs_panoramisk",
                   "throughput.service_memory", "throughput.service_redis"),
    "latency": ("latency.memory.publish_p99", "latency.memory.client_p99", "latency.redis.client_p99"),
    "capacity": ("capacity.state_per_call", "capacity.rss ", "capacity.startup", "capacity.resync"),
    "actions": ("actions.hold_share_in_process", "actions.hold_widget_round_trip"),
    "identity": ("identity.hmac_verify", "identity.jwt_verify", "identity.session_verify_cold",
                 "identity.session_verify_cached"),
    "one_dn": ("per event, first 1,000 calls", "per event, last 1,000 of"),
    "timeline": ("timeline.index_request_", "timeline.index_memory_", "timeline.full_pass_"),
}
NEEDS_REDIS = {"throughput", "latency"}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[pytest.mark.redis] if name in NEEDS_REDIS else []) for name in EXPECTED])
def test_benchmark_prints_its_rows(name: str) -> None:
    done = subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--only", name],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for expected in EXPECTED[name]:
        assert expected in done.stdout, f"{expected!r} missing from:\n{done.stdout}"
    assert "FAILED" not in done.stdout
