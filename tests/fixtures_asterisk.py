"""pytest plugin: the real Asterisk 22 sandbox (ctibridge.gateway.sandbox) and sipp.

Mark such tests ``@pytest.mark.asterisk``. Fixtures:

``asterisk_sandbox_built`` (session, sync) -> ``Path`` of the chroot. Fails, with the command to
    run, when scripts/install-asterisk-sandbox.sh has not built it (tests have no internet).

``asterisk`` -> ``LabAsterisk``: a running Asterisk with the lab configuration
    (asterisk/lab, made by asterisk/regenerate.sh): DNs 5001-5004 (5003 and 5004 also have a static
    sipp phone contact at 127.0.0.3:5062 / 127.0.0.4:5062), trunk ``genesys`` = 127.0.0.2:5060,
    SIP on 127.0.0.1:5060, WebSocket ws://127.0.0.1:8088/ws, AMI on 127.0.0.1:5038 as user
    ``ctibridge`` with the least-privilege rights of the generated manager.conf. Attributes:
    ``sandbox`` (``cli(cmd) -> str``, ``log_text()``, ``await restart()``, ``await stop()``),
    ``settings`` (``GatewaySettings``: ``password(dn)``, ``phone_address(dn)``, ...), ``ami_host``,
    ``ami_port``, ``ami_user``, ``ami_secret`` (plain str). One Asterisk serves a whole test module;
    after every test all channels are hung up (and a stopped Asterisk is started again), so each
    test starts from no channels.

``sipp`` -> ``ctibridge.sim.sipp.Sipp`` bound to that gateway (roles: ``genesys_call``,
    ``genesys_answer``, ``genesys_registrar``, ``phone_answer``, ``phone_ring``, ``phone_call``).
    After the test the calls are hung up first (so every sipp in a call gets its BYE), then every
    sipp still running is killed.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ctibridge.gateway.generator import render
from ctibridge.gateway.sandbox import AsteriskSandbox, default_root, is_built
from ctibridge.gateway.settings import GatewaySettings
from ctibridge.sim.sipp import Sipp
from tools.local_services import LAB_AMI_SECRET, lab_settings


@dataclass
class LabAsterisk:
    sandbox: AsteriskSandbox
    settings: GatewaySettings
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "ctibridge"
    ami_secret: str = LAB_AMI_SECRET

    def channel_count(self) -> int:
        out = self.sandbox.cli("core show channels count")
        return int(out.split(" active channel")[0].split()[-1])

    async def clean(self, deadline_s: float = 10.0) -> bool:
        """Hang up every channel and wait until none is left; start Asterisk again if a test stopped
        it (or it died). True if there was a channel to hang up."""
        process = self.sandbox.process
        if process is None or process.poll() is not None:
            await self.sandbox.start(render(self.settings))
            return False
        deadline = time.monotonic() + deadline_s
        had_channels = bool(self.channel_count())
        while self.channel_count():
            self.sandbox.cli("channel request hangup all")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    "channels left after hangup all:\n" + self.sandbox.cli("core show channels")
                )
            await asyncio.sleep(0.05)
        return had_channels


@pytest.fixture(scope="session")
def asterisk_sandbox_built() -> Path:
    root = default_root()
    if not is_built(root):
        pytest.fail(
            f"no Asterisk sandbox at {root}: run scripts/install-asterisk-sandbox.sh "
            "(or `ctibridge asterisk-sandbox build`) outside the tests; they have no internet",
            pytrace=False,
        )
    return root


@pytest.fixture(scope="module")
def _lab_asterisk(
    asterisk_sandbox_built: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LabAsterisk]:
    settings = lab_settings()
    sandbox = AsteriskSandbox(asterisk_sandbox_built, tmp_path_factory.mktemp("asterisk"))
    asyncio.run(sandbox.start(render(settings)))
    try:
        yield LabAsterisk(sandbox, settings)
    finally:
        asyncio.run(sandbox.stop())


@pytest.fixture
async def asterisk(_lab_asterisk: LabAsterisk) -> AsyncIterator[LabAsterisk]:
    await _lab_asterisk.clean()
    yield _lab_asterisk
    await _lab_asterisk.clean()


@pytest.fixture
async def sipp(asterisk: LabAsterisk, tmp_path: Path) -> AsyncIterator[Sipp]:
    if shutil.which("sipp") is None:
        pytest.fail("sipp is missing: run scripts/install-asterisk-sandbox.sh", pytrace=False)
    settings = asterisk.settings
    runner = Sipp(
        tmp_path / "sipp",
        phones={dn: settings.phone_address(dn) for dn in settings.phone_dns},
        passwords={dn: settings.password(dn) for dn in settings.phone_dns},
    )
    try:
        yield runner
    finally:
        # Hang up while the sipps live: a BYE sent to a killed sipp would be retransmitted for
        # 32 s and land in the next test's sipp on the same address.
        hung_up = await asterisk.clean()
        await runner.close(grace_s=1.0 if hung_up else 0.0)
