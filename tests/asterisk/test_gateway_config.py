"""The Asterisk configuration generator: settings, rendered files, command line, committed examples.
(That the files load and work in the real Asterisk is test_sandbox.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from ctibridge.gateway import generator
from ctibridge.gateway.generator import render
from ctibridge.gateway.moh import hold_music, ulaw
from ctibridge.gateway.settings import GatewaySettings, parse_dns, webrtc_password
from tools.local_services import lab_settings

REPO = Path(__file__).resolve().parents[2]


def production(**overrides: object) -> GatewaySettings:
    values: dict[str, object] = {
        "dns": "5001-5020",
        "genesys_host": "192.168.210.81",
        "webrtc_secret": "w-secret",
        "ami_secret": "a-secret",
    }
    return GatewaySettings.model_validate(values | overrides)


def section(text: str, name: str) -> str:
    """The body of the first ``[name]`` section (up to the next section)."""
    found = re.search(rf"^\[{re.escape(name)}\][^\n]*\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    assert found, f"no [{name}]"
    return found[1]


@pytest.mark.parametrize(
    ("spec", "dns"),
    [
        ("5001-5003", ("5001", "5002", "5003")),
        ("5001, 5010-5011", ("5001", "5010", "5011")),
        (["0998-1000"], ("0998", "0999", "1000")),
        ("7000", ("7000",)),
    ],
)
def test_dn_ranges(spec: str | list[str], dns: tuple[str, ...]) -> None:
    assert parse_dns(spec) == dns


@pytest.mark.parametrize("spec", ["5003-5001", "5001-501", "50a1", "5001,5001", "5001-5002,5002"])
def test_bad_dns_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_dns(spec)


def test_webrtc_passwords_are_derived_per_dn_and_hide_the_secret() -> None:
    assert webrtc_password("s3cret", "5001") == webrtc_password("s3cret", "5001")
    assert webrtc_password("s3cret", "5001") != webrtc_password("s3cret", "5002")
    assert webrtc_password("s3cret", "5001") != webrtc_password("other", "5001")
    assert "s3cret" not in webrtc_password("s3cret", "5001")
    assert "w-secret" not in repr(production())


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="phone_dns not in dns"):
        GatewaySettings(**{**lab_settings().model_dump(), "phone_dns": ("5009",)})
    with pytest.raises(ValidationError, match="lab feature"):
        production(phone_dns="5001")
    with pytest.raises(ValidationError, match="section name"):
        production(trunk="gen esys")


def test_every_placeholder_is_filled() -> None:
    for settings in (production(), lab_settings()):
        for name, text in render(settings).items():
            assert "{{" not in text, name
    assert set(render(production())) == set(generator.CONFIG_FILES)


def test_production_profile_follows_the_seed_architecture() -> None:
    files = render(production(genesys_auth_user="asterisk_gateway", genesys_password="g-secret"))
    pjsip = files["pjsip.conf"]
    assert "protocol=wss" in section(pjsip, "transport-wss")
    assert "bind=0.0.0.0:5060" in section(pjsip, "transport-udp")
    agent = section(pjsip, "webrtc-agent")
    assert "webrtc=yes" in agent and "dtls_auto_generate_cert=yes" in agent and "context=from-webrtc" in agent
    assert "media_address" not in pjsip
    assert len(re.findall(r"^\[genesys-reg-\d+\]\(genesys-registration\)$", pjsip, re.M)) == 20
    assert "client_uri=sip:5020@192.168.210.81:5060" in section(pjsip, "genesys-reg-5020")
    assert "server_uri=sip:192.168.210.81:5060" in section(pjsip, "genesys-registration")
    assert "outbound_auth=genesys-auth" in section(pjsip, "genesys-registration")
    assert "match=192.168.210.81" in section(pjsip, "genesys-identify")
    assert "username=asterisk_gateway" in section(pjsip, "genesys-auth")
    assert "tlsenable=yes" in files["http.conf"] and "tlsbindaddr=0.0.0.0:8089" in files["http.conf"]
    assert "ice_host_candidates" not in files["rtp.conf"]


def test_production_without_genesys_auth_has_no_outbound_auth() -> None:
    assert "outbound_auth" not in render(production())["pjsip.conf"]


def test_lab_profile_stays_on_loopback() -> None:
    s = lab_settings()
    files = render(s)
    pjsip = files["pjsip.conf"]
    assert "bind=127.0.0.1:5060" in section(pjsip, "transport-udp")
    assert "protocol=ws" in section(pjsip, "transport-ws")
    assert "media_address=127.0.0.1\nbind_rtp_to_media_address=yes" in section(pjsip, "webrtc-agent")
    assert "media_address=127.0.0.1" in section(pjsip, "genesys")
    assert "match=127.0.0.2" in section(pjsip, "genesys-identify")
    assert "server_uri=sip:127.0.0.2:5070" in section(pjsip, "genesys-registration")
    assert re.search(r"^contact=sip:5003@127\.0\.0\.3:5062", pjsip, re.M)
    assert not re.search(r"^contact=sip:5001@", pjsip, re.M)
    assert "max_contacts=1" in section(pjsip, "webrtc-agent-aor")
    assert f"password={s.password('5002')}" in section(pjsip, "5002-auth")
    assert "[ice_host_candidates]\n198.51.100.1 => 127.0.0.1" in files["rtp.conf"]
    assert "bindaddr=127.0.0.1" in files["http.conf"] and "tls" not in files["http.conf"]


def test_dialplan_contexts_the_bridge_depends_on() -> None:
    ext = render(lab_settings())["extensions.conf"]
    genesys = section(ext, "from-genesys")
    assert "Set(__CALLUUID=${PJSIP_HEADER(read,X-Genesys-CallUUID)})" in genesys
    assert "Set(__SIPCALLID=${CHANNEL(pjsip,call-id)})" in genesys
    assert "Dial(PJSIP/${EXTEN},30,tb(ctibridge-agent-leg^s^1))" in genesys
    assert "Set(PJSIP_HEADER(add,X-Genesys-CallUUID)=${CALLUUID})" in section(ext, "ctibridge-agent-leg")
    assert "Dial(PJSIP/${EXTEN}@genesys,60,T" in section(ext, "from-webrtc")
    hold = section(ext, "ctibridge-hold")
    assert "exten => moh,1,Answer()\n same => n,MusicOnHold(ctibridge)" in hold
    assert "exten => park,1,Wait(3600)" in hold
    xfer = section(ext, "ctibridge-xfer")
    assert [line.split(",")[0] for line in xfer.splitlines() if line.startswith("exten")] == [
        *(f"exten => {dn}" for dn in ("5001", "5002", "5003", "5004")),
        "exten => _X.",
    ]
    features = render(lab_settings())["features.conf"]
    assert "atxfer => *2" in features and "atxferabort=*1" in features


def test_manager_user_is_least_privilege() -> None:
    manager = render(production())["manager.conf"]
    assert "bindaddr=127.0.0.1" in section(manager, "general")
    assert "channelvars=CALLUUID,SIPCALLID" in section(manager, "general")
    user = section(manager, "ctibridge")
    assert re.search(r"^read=call,dialplan,system$", user, re.M)
    assert re.search(r"^write=call,system$", user, re.M)
    assert "secret=a-secret" in user and "permit=127.0.0.1/255.255.255.255" in user


def test_music_on_hold_is_mu_law() -> None:
    assert (ulaw(0), ulaw(32767), ulaw(-32768), ulaw(-1)) == (0xFF, 0x80, 0x00, 0x7F)
    music = hold_music(seconds=1.0)
    assert len(music) == 8000 and len(set(music)) > 50
    assert "[ctibridge]\nmode=files\ndirectory=moh/ctibridge" in render(production())["musiconhold.conf"]


def test_command_line_reads_secrets_from_files_and_never_prints_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "webrtc").write_text("file-webrtc-secret\n")
    (tmp_path / "ami").write_text("file-ami-secret\n")
    monkeypatch.delenv("CTIBRIDGE_WEBRTC_SECRET", raising=False)
    argv = ["--dns", "5001-5002", "--genesys-host", "10.0.0.1", "--out", str(tmp_path / "out")]
    files = ["--webrtc-secret-file", str(tmp_path / "webrtc"), "--ami-secret-file", str(tmp_path / "ami")]

    assert generator.main(argv + files) == 0
    assert "secret=file-ami-secret\n" in (tmp_path / "out" / "manager.conf").read_text()
    expected = webrtc_password("file-webrtc-secret", "5002")
    assert f"password={expected}" in (tmp_path / "out" / "pjsip.conf").read_text()
    assert generator.main([*argv, "--ami-secret-file", str(tmp_path / "ami")]) == 2
    out, err = capsys.readouterr()
    assert "CTIBRIDGE_WEBRTC_SECRET" in err
    assert "file-" not in out + err and expected not in out + err


def test_committed_examples_are_the_generator_output(tmp_path: Path) -> None:
    env = {**os.environ, "CTIBRIDGE": str(Path(sys.executable).with_name("ctibridge"))}
    subprocess.run([REPO / "asterisk" / "regenerate.sh", tmp_path], check=True, env=env, capture_output=True)
    for profile in ("production", "lab"):
        committed = {f.name: f.read_text() for f in (REPO / "asterisk" / profile).glob("*.conf")}
        assert committed == {f.name: f.read_text() for f in (tmp_path / profile).glob("*.conf")}, profile
    assert {f.name: f.read_text() for f in (REPO / "asterisk" / "lab").glob("*.conf")} == render(
        lab_settings()
    )
