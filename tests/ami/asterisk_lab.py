"""The real Asterisk 22 sandbox and sipp, for the AMI adapter tests.

Interim: written while tests/fixtures_asterisk.py (fixtures ``asterisk`` and ``sipp``) was still
empty; same lab (generator ``lab`` profile, DNs 5001-5004, sipp phones for 5001/5002 at
127.0.0.3/127.0.0.4:5062, Genesys = sipp at 127.0.0.2:5060, AMI 127.0.0.1:5038). To be replaced
by those fixtures once they exist.
"""

from __future__ import annotations

import asyncio
import errno
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from ctibridge.gateway.generator import render
from ctibridge.gateway.sandbox import AsteriskSandbox, default_root, is_built
from ctibridge.gateway.settings import GatewaySettings

SCENARIOS = Path(__file__).parent / "sipp"
AMI_USER = "ctibridge"
AMI_SECRET = "ami-lab-secret"
GENESYS = "127.0.0.2"
PHONES = {"5001": "127.0.0.3", "5002": "127.0.0.4"}


def lab_config() -> dict[str, str]:
    settings = GatewaySettings(
        profile="lab",
        dns=("5001", "5002", "5003", "5004"),
        phone_dns=tuple(PHONES),
        genesys_host=GENESYS,
        webrtc_secret="webrtc-lab-secret",
        ami_secret=AMI_SECRET,
    )
    files = render(settings)
    # Two gaps of the generated configuration, reported to its owner:
    # * no sound files in the sandbox: Atxfer's announcement ("pbx-transfer") fails to play and
    #   Asterisk aborts the transfer; an empty announcement skips it;
    # * AMI PlayDTMF lives in app_senddtmf, which modules.conf does not load.
    features = files["features.conf"]
    files["features.conf"] = features.replace("[general]\n", "[general]\ntransferannouncesound=\n", 1)
    files["modules.conf"] += "load => app_senddtmf.so\n"
    return files


def sandbox_available() -> bool:
    return is_built(default_root())


async def start_sandbox(workdir: Path) -> AsteriskSandbox:
    sandbox = AsteriskSandbox(default_root(), workdir)
    await sandbox.start(lab_config())
    return sandbox


def call_uuid() -> str:
    """A Genesys-style CallUUID: 32 characters of base32."""
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(32))


@dataclass
class Sipp:
    """One sipp process; ``finish()`` waits for its exit code within a deadline."""

    name: str
    process: asyncio.subprocess.Process
    trace: Path

    async def finish(self, within: float = 15.0) -> int:
        async with asyncio.timeout(within):
            return await self.process.wait()

    def messages(self) -> str:
        return self.trace.read_text(errors="replace") if self.trace.exists() else ""


class SippLab:
    """Starts sipp phones and Genesys calls for one test; ``close()`` kills what is still running."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Sipp] = []

    async def phone(self, dn: str) -> Sipp:
        """The sipp phone of a lab DN, listening before this returns."""
        ip = PHONES[dn]
        sipp = await self._sipp(f"phone-{dn}", ip, 5062, "-sf", str(SCENARIOS / "phone.xml"), "-s", dn)
        await _until_bound(ip, 5062, sipp)
        return sipp

    async def genesys_call(self, dn: str, uuid: str, caller: str = "José Müller") -> Sipp:
        """The Genesys SIP Server calling ``dn`` through the gateway."""
        return await self._sipp(
            f"genesys-{dn}", GENESYS, 5060, "-sf", str(SCENARIOS / "genesys_call.xml"), "-s", dn,
            "-key", "calluuid", uuid, "-key", "caller_name", caller, "127.0.0.1:5060",
        )  # fmt: skip

    async def _sipp(self, name: str, ip: str, port: int, *args: str) -> Sipp:
        trace = self.workdir / f"{name}.msg"
        process = await asyncio.create_subprocess_exec(
            "sipp", "-i", ip, "-p", str(port), "-ci", ip, "-mi", ip, "-m", "1", "-nostdin",
            "-timeout", "90s", "-trace_msg", "-message_file", str(trace), *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, cwd=self.workdir,
        )  # fmt: skip
        sipp = Sipp(name, process, trace)
        self.started.append(sipp)
        return sipp

    async def close(self) -> None:
        for sipp in self.started:
            if sipp.process.returncode is None:
                sipp.process.kill()
                await sipp.process.wait()


async def _until_bound(ip: str, port: int, sipp: Sipp) -> None:
    """sipp listens once its UDP port is taken (we cannot bind it any more)."""
    async with asyncio.timeout(5.0):
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((ip, port))
                except OSError as exc:
                    if exc.errno == errno.EADDRINUSE:
                        return
                    raise
            if sipp.process.returncode is not None:
                assert sipp.process.stderr is not None
                raise RuntimeError(f"sipp {sipp.name} exited early: {await sipp.process.stderr.read()!r}")
            await asyncio.sleep(0.01)
