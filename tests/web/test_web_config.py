"""Settings: file + environment, secrets from files, error messages that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ctibridge.config import Settings, describe_errors, main

SECRET = "s3cret-token-key-0123456789"

MINIMAL = f"""
[ami]
username = "bridge"
secret = "ami-pass"
[gws]
base_url = "http://127.0.0.1:8090"
[[gws.agents]]
agent_id = "a1"
username = "agent1"
password = "pw1"
dn = "5001"
[gateway]
dns = ["5001-5003", "6000"]
[auth]
token_secret = "{SECRET}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return path


def test_minimal_file_defaults_and_dn_ranges(tmp_path: Path) -> None:
    s = Settings.load(write(tmp_path, MINIMAL))
    assert s.listen.host == "127.0.0.1"
    assert s.gateway.dns == ["5001", "5002", "5003", "6000"]
    assert s.ami.secret_value == "ami-pass"
    assert s.store.kind == "memory"


def test_environment_overrides_file_with_nesting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTIBRIDGE_AMI__PORT", "5039")
    monkeypatch.setenv("CTIBRIDGE_AMI__SECRET", "from-env")
    monkeypatch.setenv("CTIBRIDGE_STORE__KIND", "redis")
    monkeypatch.setenv("CTIBRIDGE_STORE__REDIS_URL", "redis://127.0.0.1:6390/0")
    s = Settings.load(write(tmp_path, MINIMAL))
    assert s.ami.port == 5039
    assert s.ami.username == "bridge"  # the rest of the section still comes from the file
    assert s.ami.secret_value == "from-env"
    assert s.store.redis_url == "redis://127.0.0.1:6390/0"


def test_secret_files(tmp_path: Path) -> None:
    (tmp_path / "ami.secret").write_text("file-pass\n")
    (tmp_path / "token.secret").write_text(SECRET + "\n")
    text = MINIMAL.replace('secret = "ami-pass"', f'secret_file = "{tmp_path}/ami.secret"')
    text = text.replace(f'token_secret = "{SECRET}"', f'token_secret_file = "{tmp_path}/token.secret"')
    s = Settings.load(write(tmp_path, text))
    assert s.ami.secret_value == "file-pass"
    assert s.auth.secret_bytes == SECRET.encode()


def test_secrets_never_in_repr_or_summary(tmp_path: Path) -> None:
    s = Settings.load(write(tmp_path, MINIMAL))
    for text in (repr(s), str(s), str(s.summary())):
        assert "ami-pass" not in text and SECRET not in text and "pw1" not in text


@pytest.mark.parametrize(("change", "message"), [
    (('port = 5038', 'port = 70000'), "ami.port: Input should be less than 65536"),
    (('dialect = "v2"', 'dialect = "v9"'), "gws.dialect: Input should be 'v2' or 'v3'"),
    (('dns = ["5001-5003", "6000"]', 'dns = ["5003-5001"]'), "gateway.dns: Value error, bad DN range"),
    (('secret = "ami-pass"', ''), "ami: Value error, secret is required"),
    (('dn = "5001"', 'dn = "abc"'), "gws.agents.0.dn: String should match pattern"),
])
def test_errors_name_the_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = MINIMAL.replace("[ami]\n", "[ami]\nport = 5038\n").replace("[gws]\n", '[gws]\ndialect = "v2"\n')
    with pytest.raises(ValidationError) as err:
        Settings.load(write(tmp_path, text.replace(*change)))
    assert any(line.startswith(message) for line in describe_errors(err.value)), describe_errors(err.value)


def test_check_config_ok_is_redacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(write(tmp_path, MINIMAL))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and "**********" in out
    assert "ami-pass" not in out and SECRET not in out


def test_check_config_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(write(tmp_path, MINIMAL.replace("[ami]\n", "[ami]\nport = 70000\n")))]) == 2
    assert "ami.port: Input should be less than 65536" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.toml")]) == 2


def test_documented_example_is_valid_but_for_its_secret_files() -> None:
    example = Path(__file__).parents[2] / "docs" / "config.example.toml"
    with pytest.raises(ValidationError) as err:
        Settings.load(example)
    assert {str(e["loc"][-1]) for e in err.value.errors()} == {
        "secret_file", "password_file", "token_secret_file", "webrtc_secret_file"}


def test_auto_repair_per_rule(tmp_path: Path) -> None:
    text = MINIMAL + '[correlation]\nauto_repair = { asterisk_gone = true, held_in_genesys_only = false }\n'
    repairs = Settings.load(write(tmp_path, text)).correlation.repairs()
    assert "asterisk_gone" in repairs and "held_in_genesys_only" not in repairs
    assert "genesys_released" in repairs  # a default that was not named


def test_unknown_repair_rule_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        Settings.load(write(tmp_path, MINIMAL + '[correlation]\nauto_repair = { held_everywhere = true }\n'))
    assert describe_errors(err.value)[0].startswith(
        "correlation.auto_repair: Value error, no repairable rule")
