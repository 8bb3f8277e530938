"""docs/walkthrough-simulators.md, followed as written: its shell commands (with this checkout's
virtualenv for ~/ctibridge and free ports for 5038, 8090 and 8080) and its configuration file
bring up the standalone simulators and ``ctibridge run``; the bridge becomes ready and serves
the calls, the operator page, a call's timeline and the widget, and both stop cleanly."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tools.local_services import free_port

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "walkthrough-simulators.md").read_text()
BIN = str(Path(sys.executable).parent) + "/"
WITHIN = 30.0


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def command(prefix: str) -> str:
    """The doc's shell line that starts with ``prefix``."""
    (line,) = [line for block in blocks("sh") for line in block.splitlines() if line.startswith(prefix)]
    return line


@pytest.fixture
def ports() -> dict[str, str]:
    return {"5038": str(free_port()), "8090": str(free_port()), "8080": str(free_port())}


def adapt(text: str, ports: dict[str, str]) -> str:
    text = text.replace("~/ctibridge/bin/", BIN)
    for doc_port, port in ports.items():
        text = text.replace(f"127.0.0.1:{doc_port}", f"127.0.0.1:{port}")
        text = re.sub(rf"(--port |--gws-port |port = ){doc_port}\b", rf"\g<1>{port}", text)
    return text


async def started(line: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_shell(f"exec {line}", cwd=cwd, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.STDOUT)


async def stopped(process: asyncio.subprocess.Process) -> str:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    async with asyncio.timeout(WITHIN):
        output, _ = await process.communicate()
    return output.decode()


@pytest.fixture
def labdir(tmp_path: Path, ports: dict[str, str]) -> Path:
    """Sections 2 and 4: the secrets and the checked configuration (tmp_path plays ~/lab)."""
    secrets_block = blocks("sh")[1]
    for line in secrets_block.splitlines()[1:]:  # after `mkdir -p ~/lab && cd ~/lab`
        subprocess.run(line, shell=True, cwd=tmp_path, check=True)
    (tmp_path / "bridge.toml").write_text(adapt(blocks("toml")[0], ports))
    check = subprocess.run(adapt(command("~/ctibridge/bin/ctibridge check-config"), ports), shell=True,
                           cwd=tmp_path, capture_output=True, text=True, check=False)
    assert check.returncode == 0 and "**********" in check.stdout, check.stderr
    return tmp_path


@pytest.fixture
def token(labdir: Path) -> str:
    """Section 6: the doc's token command."""
    minted = subprocess.run(command("CTIBRIDGE_AUTH__TOKEN_SECRET=").replace("~/ctibridge/bin/", BIN),
                            shell=True, cwd=labdir, capture_output=True, text=True, check=True)
    return minted.stdout.strip()


@pytest.fixture
async def lab(labdir: Path, ports: dict[str, str]) -> AsyncIterator[tuple[Path, str]]:
    """Sections 3 and 5: the simulators and ``run``; yields (dir, bridge URL)."""
    tmp_path = labdir
    simulators = await started(adapt(command("~/ctibridge/bin/python -m ctibridge.sim.ami"), ports), tmp_path)
    bridge = await started(adapt(command("~/ctibridge/bin/ctibridge run"), ports), tmp_path)
    try:
        yield tmp_path, f"http://127.0.0.1:{ports['8080']}"
    finally:
        bridge_output = await stopped(bridge)
        simulator_output = await stopped(simulators)
    assert bridge.returncode == 0, bridge_output[-3000:]
    assert f"listening on http://127.0.0.1:{ports['8080']}" in bridge_output
    assert f"AMI simulator on 127.0.0.1:{ports['5038']}" in simulator_output
    secrets = [(tmp_path / name).read_text().strip() for name in ("lab.secret", "token.secret")]
    assert not [s for s in secrets if s in bridge_output + simulator_output]


async def test_the_simulator_walkthrough_works_as_written(lab: tuple[Path, str], token: str) -> None:
    workdir, base = lab
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(WITHIN):
            while True:  # no event says ready: ask, bounded
                try:
                    async with http.get(f"{base}/readyz", headers=auth) as resp:
                        ready = await resp.json()
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.2)
        assert ready["status"] == "ready" and {s["dn"] for s in ready["gws"]} == {"5001", "5002"}
        async with asyncio.timeout(WITHIN):
            while True:  # the scenarios place calls: wait for one
                async with http.get(f"{base}/api/calls", headers=auth) as resp:
                    calls = (await resp.json())["calls"]
                if calls:
                    break
                await asyncio.sleep(0.2)
        for path in ("/operator", f"/calls/{calls[0]['id']}/timeline", "/widget/"):
            async with http.get(f"{base}{path}", params={"token": token}) as resp:
                assert resp.status == 200, path
        async with http.get(f"{base}/metrics") as resp:
            assert "ctibridge_link_up" in await resp.text()
    assert (workdir / "events.jsonl").stat().st_size > 0
