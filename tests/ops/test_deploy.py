"""The operations kit in deploy/ is valid for the tools that read it, and speaks of metrics the
bridge really exports: promtool checks and unit-tests the alert rules, every metric the rules and
the Grafana dashboard use is on a live bridge's /metrics, systemd-analyze verifies the unit, and
the shell scripts pass shellcheck, the Dockerfiles hadolint."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from ctibridge.config import Settings
from ctibridge.service.assemble import build
from ctibridge.web.app import create_app
from ctibridge.web.serve import serving
from tools.local_services import free_port

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "ctibridge-rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "ctibridge-dashboard.json"
UNIT = ROOT / "deploy" / "systemd" / "ctibridge.service"
METRIC = re.compile(r"\b(ctibridge_[a-z_]+)")


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert path, f"{name} missing: run scripts/install-ops-tools.sh (or bootstrap)"
    return path


def run(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_alert_rules_are_valid_and_fire_when_they_should() -> None:
    assert "SUCCESS: 8 rules found" in run(tool("promtool"), "check", "rules", str(RULES))
    assert "SUCCESS" in run(tool("promtool"), "test", "rules", "alerts_test.yml", cwd=ROOT / "tests" / "ops")


async def exported_metrics() -> set[str]:
    """Sample names a bridge served as ``run`` serves it exports (its AMI down)."""
    settings = Settings(ami={"username": "u", "secret": "s", "port": free_port()},
                        gws={"base_url": "http://127.0.0.1:1"}, auth={"token_secret": "x" * 16})
    app = create_app(settings, components=build(settings))
    async with serving(app, settings, socket.create_server(("127.0.0.1", 0))) as base, \
            aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(kind, ("",))
        names |= {name.removesuffix("_total") + s for s in suffixes}
    return names


async def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    exported = await exported_metrics()
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set(METRIC.findall(RULES.read_text())) | {m for e in exprs for m in METRIC.findall(e)}
    assert len(used) >= 10 and used <= exported, sorted(used - exported)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == "ctibridge"
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    # verify needs the ExecStart binary to exist: point it at this checkout's script
    unit = tmp_path / "ctibridge.service"
    script = str(Path(sys.executable).parent / "ctibridge")
    unit.write_text(UNIT.read_text().replace("/opt/ctibridge/bin/ctibridge", script))
    assert run(tool("systemd-analyze"), "verify", str(unit), cwd=tmp_path).strip() == ""
    text = UNIT.read_text()
    assert "DynamicUser=yes" in text and "NoNewPrivileges=yes" in text and "LoadCredential=" in text


@pytest.mark.parametrize("script", sorted([*ROOT.glob("scripts/*.sh"), *ROOT.glob("asterisk/*.sh"),
                                           ROOT / ".ci" / "run"]), ids=lambda p: p.name)
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    run(tool("shellcheck"), str(script))


@pytest.mark.parametrize("dockerfile", sorted(ROOT.glob("docker/Dockerfile.*")), ids=lambda p: p.name)
def test_dockerfiles_pass_hadolint_and_run_as_a_numeric_user(dockerfile: Path) -> None:
    run(tool("hadolint"), str(dockerfile))
    text = dockerfile.read_text()
    assert re.search(r"^USER \d+:\d+$", text, re.M), "USER must be numeric"
    instructions = text.replace("\\\n", " ").splitlines()  # continuation lines joined
    (healthcheck,) = [line for line in instructions if line.startswith("HEALTHCHECK")]
    assert re.search(r" CMD \[", healthcheck), f"not in exec form: {healthcheck}"
    assert not re.search(r"(?i)secret|password", " ".join(
        line for line in text.splitlines() if line.startswith(("COPY", "ADD", "ENV", "ARG"))))
