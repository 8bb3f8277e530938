"""`ctibridge asterisk-sandbox build|start|status|stop` (asterisk/sandbox.sh) as an operator uses it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ctibridge.gateway import sandbox

pytestmark = pytest.mark.asterisk
REPO = Path(__file__).resolve().parents[2]


def test_build_is_idempotent(asterisk_sandbox_built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sandbox.main(["build", "--root", str(asterisk_sandbox_built)]) == 0
    assert "Asterisk 22." in capsys.readouterr().out


def test_start_status_stop(
    asterisk_sandbox_built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--root", str(asterisk_sandbox_built), "--workdir", str(tmp_path)]
    assert sandbox.main(["start", *common, "--config-dir", str(REPO / "asterisk" / "lab")]) == 0
    try:
        pid = int((tmp_path / "asterisk.pid").read_text())
        assert sandbox.main(["start", *common, "--config-dir", str(REPO / "asterisk" / "lab")]) == 1
        assert sandbox.main(["status", *common]) == 0
        status = capsys.readouterr().out
        assert f"running: True (pid {pid}" in status and "System uptime" in status
        with socket.create_connection(("127.0.0.1", 5038), timeout=5) as ami:
            assert ami.recv(64).startswith(b"Asterisk Call Manager/")
    finally:
        assert sandbox.main(["stop", *common]) == 0
    assert not sandbox.process_alive(pid)  # (a zombie until this test process reaps its child)
    assert sandbox.main(["status", *common]) == 0
    assert "running: False" in capsys.readouterr().out
