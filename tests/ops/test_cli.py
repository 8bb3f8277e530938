"""The command line as a person meets it: --version, help texts without markup, --dn lists, and
one line (no traceback) for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ctibridge import __version__
from ctibridge.cli import COMMANDS
from ctibridge.identity.hmac_token import HmacTokenVerifier

SECRET = "cli-test-token-secret-0123456789"


def ctibridge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ctibridge", *args], capture_output=True, text=True,
                          timeout=60, check=False, env=env)


def test_version() -> None:
    assert ctibridge("--version").stdout == f"ctibridge {__version__}\n"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_is_for_people(command: str) -> None:
    shown = ctibridge(command, "--help")
    assert shown.returncode == 0 and shown.stdout.strip(), shown.stderr
    assert "``" not in shown.stdout and "Traceback" not in shown.stdout + shown.stderr


def test_token_takes_a_list_of_dns() -> None:
    env = {"CTIBRIDGE_AUTH__TOKEN_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    minted = ctibridge("token", "--agent", "a1", "--dn", "5001,5002", "--dn", "5003", env=env)
    assert minted.returncode == 0, minted.stderr
    claims = HmacTokenVerifier(SECRET.encode()).verify_now(minted.stdout.strip())
    assert claims.dns == ("5001", "5002", "5003")
    refused = ctibridge("token", "--agent", "a1", "--dn", "5001;5002", env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("ctibridge token: error")


@pytest.mark.parametrize("args", [
    ("replay", "/no/such/file.jsonl"),
    ("run", "--config", "/no/such/bridge.toml"),
    ("check-config", "/no/such/bridge.toml"),
])
def test_bad_input_is_one_line(args: tuple[str, ...]) -> None:
    done = ctibridge(*args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "/no/such/" in done.stderr, done.stderr


def test_bad_configuration_is_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text('[listen]\nport = 99999\n[ami]\nusername = "u"\nsecret = "s"\n'
                      '[gws]\nbase_url = "not a url"\n[auth]\ntoken_secret = "x"\n')
    done = ctibridge("run", "--config", str(config))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(lines) == 3 and all(line.startswith(f"ctibridge run: {config}: ") for line in lines), lines
