"""docker/: no container engine runs here, so the files are checked against each other and against
the configurations they ship: referenced files exist, every port a service listens on is the one
its peers use, and every CTIBRIDGE_* variable is a setting (the bridge's config loads with them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ctibridge.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
PRODUCTION = ROOT / "asterisk" / "production"
# created by the operator (see .env.example), never committed: the secrets, the certificate, and the
# gateway's configuration written with the site's secrets
OPERATOR_PROVIDED = ("secrets/", "tls/", "asterisk")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in (DOCKER / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {k.strip(): v.strip() for k, v in pairs}


def _ini(path: Path) -> dict[str, str]:
    """key=value lines of an Asterisk config (first wins), comments dropped."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.split(";", 1)[0].partition("=")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def _nginx() -> str:
    return (DOCKER / "nginx.conf").read_text()


def _upstream_port(name: str) -> int:
    m = re.search(rf"upstream {name} {{ server 127\.0\.0\.1:(\d+);", _nginx())
    assert m, f"nginx upstream {name} missing"
    return int(m.group(1))


def _operator_file(source: str) -> bool:
    return source.removeprefix("./").startswith(OPERATOR_PROVIDED)


def test_every_referenced_file_exists(compose: dict[str, Any]) -> None:
    documented = (DOCKER / ".env.example").read_text()
    for name, service in compose["services"].items():
        if "build" in service:
            context = (DOCKER / service["build"]["context"]).resolve()
            dockerfile = context / service["build"]["dockerfile"]
            assert dockerfile.is_file(), f"{name}: {dockerfile}"
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY ") and "--from=" not in line:
                    for source in line.split()[1:-1]:
                        assert (context / source).exists(), f"{name}: COPY {source} not in {context}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if _operator_file(source):
                assert f"docker/{source.removeprefix('./')}" in documented, f"{source} not in .env.example"
            else:
                assert (DOCKER / source).exists(), f"{name}: volume {source}"
        if "env_file" in service:
            assert (DOCKER / ".env.example").is_file()
    for name, secret in compose["secrets"].items():
        assert _operator_file(secret["file"]), name
        assert f"docker/{secret['file'].removeprefix('./')}" in documented, f"secret {name} not documented"


def test_ports_agree_with_the_configs(compose: dict[str, Any]) -> None:
    bridge_toml = tomllib.loads((DOCKER / "bridge.toml").read_text())
    bridge_env = compose["services"]["bridge"]["environment"]
    listen = int(bridge_env["CTIBRIDGE_LISTEN__PORT"])
    assert listen == bridge_toml["listen"]["port"] == _upstream_port("ctibridge")
    assert f"EXPOSE {listen}" in (DOCKER / "Dockerfile.bridge").read_text()
    assert f"'CTIBRIDGE_LISTEN__PORT', '{listen}'" in (DOCKER / "Dockerfile.bridge").read_text()

    manager = _ini(PRODUCTION / "manager.conf")
    assert int(bridge_env["CTIBRIDGE_AMI__PORT"]) == bridge_toml["ami"]["port"] == int(manager["port"])
    assert bridge_env["CTIBRIDGE_AMI__HOST"] == manager["bindaddr"] == "127.0.0.1"

    http = _ini(PRODUCTION / "http.conf")
    assert http["tlsenable"] == "yes"
    assert int(http["tlsbindaddr"].rsplit(":", 1)[1]) == _upstream_port("asterisk_wss")
    assert "proxy_pass https://asterisk_wss/ws;" in _nginx()  # res_http_websocket serves /ws
    assert http["tlscertfile"] == "/etc/asterisk/keys/asterisk.crt"
    mounts = {v.split(":")[1] for v in compose["services"]["asterisk"]["volumes"]}
    assert {http["tlscertfile"], http["tlsprivatekey"]} <= mounts

    sip_port = int(_ini(PRODUCTION / "pjsip.conf")["bind"].rsplit(":", 1)[1])
    rtp = _ini(PRODUCTION / "rtp.conf")
    expose = (DOCKER / "Dockerfile.asterisk").read_text()
    assert f"{sip_port}/udp" in expose and f"{rtp['rtpstart']}-{rtp['rtpend']}/udp" in expose

    redis = compose["services"]["redis"]["command"]
    redis_port = redis[redis.index("--port") + 1]
    assert bridge_env["CTIBRIDGE_STORE__REDIS_URL"] == f"redis://127.0.0.1:{redis_port}/0"
    assert bridge_toml["store"]["redis_url"] == bridge_env["CTIBRIDGE_STORE__REDIS_URL"]
    assert "listen 443 ssl http2;" in _nginx()  # Debian's nginx 1.22 has no `http2 on;`
    for service in compose["services"].values():
        assert service["network_mode"] == "host" and "ports" not in service  # see compose.yaml


def test_nginx_serves_what_the_widget_asks_for() -> None:
    config = (ROOT / "ctibridge" / "widget" / "config.js").read_text()
    bridge_url = re.search(r'bridgeUrl: "([^"]+)"', config)
    asterisk_url = re.search(r'asteriskUrl: "([^"]+)"', config)
    assert bridge_url and asterisk_url
    assert f"location = {bridge_url.group(1)} {{" in _nginx()
    assert f"location = {asterisk_url.group(1)} {{" in _nginx()
    assert "location ~ ^/(widget/|" in _nginx()  # the bridge serves the widget and SIP.js


def _setting_exists(path: list[str]) -> bool:
    model: Any = Settings
    for part in path:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return False
        annotation = fields[part].annotation
        model = next(
            (a for a in getattr(annotation, "__args__", (annotation,)) if hasattr(a, "model_fields")),
            annotation,
        )
    return True


def test_every_variable_is_a_setting_and_the_config_loads(
    compose: dict[str, Any], env_example: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = {**env_example, **compose["services"]["bridge"]["environment"]}
    for name in variables:
        assert name.startswith("CTIBRIDGE_"), name
        assert _setting_exists(name.removeprefix("CTIBRIDGE_").lower().split("__")), f"{name} is no setting"
    # The secret files the container gets under /run/secrets, here in a temp dir.
    secrets = {name: tmp_path / name for name in compose["secrets"]}
    for name, path in secrets.items():
        path.write_text(f"{name}-value-0123456789\n")
    for name, value in variables.items():
        monkeypatch.setenv(name, str(value).replace("/run/secrets/", f"{tmp_path}/"))
    monkeypatch.setenv("CTIBRIDGE_AMI__SECRET_FILE", str(secrets["ami_secret"]))
    monkeypatch.setenv("CTIBRIDGE_AUTH__TOKEN_SECRET_FILE", str(secrets["token_secret"]))
    settings = Settings.load(DOCKER / "bridge.toml")
    assert settings.store.kind == "redis" and settings.listen.port == 8080
    assert [a.dn for a in settings.gws.agents] == ["5001"]
    assert settings.gateway.dns[0] == "5001" and len(settings.gateway.dns) == 20
    assert settings.ami.secret_value == "ami_secret-value-0123456789"


def test_nothing_waits_for_the_bridge_to_be_ready(compose: dict[str, Any]) -> None:
    """nginx carries Asterisk's WebSocket: it must start with Asterisk whatever GWS (hence the
    bridge's readiness) does; the bridge's own health check asks only whether it lives."""
    for name, service in compose["services"].items():
        assert "bridge" not in service.get("depends_on", {}), f"{name} waits for the bridge"
    assert "/livez" in (DOCKER / "Dockerfile.bridge").read_text()
    assert "/readyz" not in (DOCKER / "Dockerfile.bridge").read_text().split("HEALTHCHECK", 1)[1]


def test_the_asterisk_image_holds_no_configuration(compose: dict[str, Any]) -> None:
    """asterisk/production has example secrets: the image never copies it; the site's own
    configuration is mounted (written by ctibridge asterisk-config with the site's secrets)."""
    dockerfile = (DOCKER / "Dockerfile.asterisk").read_text()
    assert "asterisk/production" not in "".join(line for line in dockerfile.splitlines()
                                                if line.startswith(("COPY", "ADD")))
    assert "./asterisk:/etc/asterisk:ro" in compose["services"]["asterisk"]["volumes"][0]
