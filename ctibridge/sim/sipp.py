"""sipp as the Genesys SIP Server and as agent phones, against the Asterisk gateway.

Every sipp runs one call (``-m 1``; the registrar one per DN) on its own loopback address: the
Genesys side on 127.0.0.2 (the trunk's identify match; the UAS answering outbound calls on 5060, the
trunk's contact, callers on ports of their own so several calls can overlap), a phone on its DN's
address (the lab aor contact, ``GatewaySettings.phone_address``). ``wait()`` returns sipp's exit
code and its message trace; ``Sipp.close()`` kills every sipp it started.

Scenarios (``ctibridge/sim/sipp/*.xml``): see each file's header comment.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

GENESYS_IP = "127.0.0.2"
GENESYS_PORT = 5060
PHONE_PORT = 5062
GATEWAY = "127.0.0.1:5060"

GenesysFlow = Literal["talk", "hold", "cancel", "until_bye"]


@dataclass(frozen=True)
class SippResult:
    rc: int  # 0: the call went as the scenario says; 1: it did not; others: sipp failed
    trace: str  # every SIP message sent and received (-trace_msg)
    errors: str  # sipp's error log (-trace_err)

    @property
    def ok(self) -> bool:
        return self.rc == 0


class SippCall:
    """One running sipp process."""

    def __init__(self, process: asyncio.subprocess.Process, files: Path, name: str) -> None:
        self.process = process
        self.name = name
        self._files = files

    def trace(self) -> str:
        """The messages so far (sipp writes them as it goes)."""
        return _read(self._files / "messages.log")

    async def wait(self, within_s: float = 30.0) -> SippResult:
        """Wait for the call to end (killing sipp after ``within_s``) and return the result."""
        try:
            rc = await asyncio.wait_for(self.process.wait(), within_s)
        except TimeoutError:
            await self.kill()
            rc = -1
        return SippResult(rc, self.trace(), _read(self._files / "errors.log"))

    async def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def scenario_path(name: str) -> Path:
    return Path(str(resources.files("ctibridge.sim").joinpath("sipp", f"{name}.xml")))


def _udp_bound(ip: str, port: int) -> bool:
    """Is something bound to ip:port (UDP) in this network namespace? (/proc/net/udp, hex, host order)"""
    wanted = f"{''.join(f'{int(b):02X}' for b in reversed(ip.split('.')))}:{port:04X}"
    with open("/proc/net/udp", encoding="ascii") as table:
        return any(line.split()[1] == wanted for line in table.readlines()[1:])


class Sipp:
    """Starts sipp processes against the gateway at ``gateway`` and kills them all on ``close()``.

    ``phones`` maps a DN to its phone's loopback address, ``passwords`` a DN to its SIP password
    (for ``phone_call``, which must answer Asterisk's digest challenge).
    """

    def __init__(
        self,
        workdir: Path,
        phones: Mapping[str, str],
        passwords: Mapping[str, str],
        gateway: str = GATEWAY,
    ) -> None:
        self.workdir = workdir
        self.phones = dict(phones)
        self.passwords = dict(passwords)
        self.gateway = gateway
        self.calls: list[SippCall] = []
        self._numbers = itertools.count(1)

    async def start(
        self,
        scenario: str,
        *,
        ip: str,
        port: int | None = None,
        service: str = "",
        keys: Mapping[str, str] | None = None,
        pause_ms: int = 1000,
        auth: tuple[str, str] | None = None,
        listening: bool = False,
        calls: int | None = 1,
    ) -> SippCall:
        """Run ``scenario`` from ``ip:port`` (no port: one of its own) toward the gateway.
        ``listening``: return only once sipp has bound its port (a UAS must be there before Asterisk
        calls it). ``calls``: how many calls (SIP dialogs) before sipp exits; None: until killed."""
        n = next(self._numbers)
        files = self.workdir / f"{n:02d}-{scenario}"
        files.mkdir(parents=True, exist_ok=True)
        slot = n % 800  # ports of their own for concurrent sipps; reused in a long-running demo
        port = 5100 + slot if port is None else port
        media_port = 20000 + 10 * slot
        argv = [
            "sipp", self.gateway, "-sf", str(scenario_path(scenario)), "-nostdin",
            "-i", ip, "-p", str(port), "-mi", ip, "-mp", str(media_port),
            "-ci", ip, "-cp", str(30000 + slot), "-d", str(pause_ms), "-timeout", "120s",
            "-trace_msg", "-message_file", str(files / "messages.log"),
            "-trace_err", "-error_file", str(files / "errors.log"),
            "-trace_screen", "-screen_file", str(files / "screen.log"),
        ]  # fmt: skip
        if calls is not None:
            argv += ["-m", str(calls)]
        if service:
            argv += ["-s", service]
        # sipp allows [media_port] only on the m= line; the ICE candidate line uses [rtp_port]
        for key, value in {"rtp_port": str(media_port), **(keys or {})}.items():
            argv += ["-key", key, value]
        if auth:
            argv += ["-au", auth[0], "-ap", auth[1]]
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,  # what matters is in the trace files
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        call = SippCall(process, files, scenario)
        self.calls.append(call)
        if listening:
            await self._until_bound(call, ip, port)
        return call

    async def _until_bound(self, call: SippCall, ip: str, port: int, within_s: float = 5.0) -> None:
        deadline = time.monotonic() + within_s
        while not _udp_bound(ip, port):
            if call.process.returncode is not None or time.monotonic() > deadline:
                result = await call.wait(0.1)
                raise RuntimeError(f"sipp {call.name} did not start on {ip}:{port}: {result}")
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ the Genesys SIP Server
    async def genesys_call(
        self,
        dn: str,
        call_uuid: str,
        flow: GenesysFlow = "talk",
        pause_ms: int = 1000,
        caller: str = "0611223344",
    ) -> SippCall:
        """Genesys calls ``dn`` with ``X-Genesys-CallUUID: call_uuid``. ``talk``: answer, ``pause_ms``,
        BYE. ``hold``: re-INVITE to hold (c=0.0.0.0, sendonly) and back, ``pause_ms`` apart, BYE.
        ``cancel``: CANCEL ``pause_ms`` after 180 (abandoned). ``until_bye``: talk until Asterisk
        hangs up (the agent or the bridge ends the call)."""
        return await self.start(
            f"genesys_call_{flow}" if flow != "talk" else "genesys_call",
            ip=GENESYS_IP,
            service=dn,
            keys={"call_uuid": call_uuid, "caller": caller},
            pause_ms=pause_ms,
        )

    async def genesys_answer(self, call_uuid: str = "", pause_ms: int = 200) -> SippCall:
        """Genesys answers an agent's outbound call (its 200 OK carries ``X-Genesys-CallUUID`` when
        given) and waits for Asterisk's BYE."""
        header = {"uuid_header": "X-Genesys-CallUUID", "call_uuid": call_uuid}
        return await self.start(
            "genesys_answer",
            ip=GENESYS_IP,
            port=GENESYS_PORT,
            # sipp cannot leave a header out: without a CallUUID the line becomes a harmless note
            keys=header if call_uuid else {"uuid_header": "X-Sim-Note", "call_uuid": "no CallUUID"},
            pause_ms=pause_ms,
            listening=True,
        )

    async def genesys_registrar(self, registrations: int | None = None, port: int = 5070) -> SippCall:
        """Genesys accepts REGISTERs (the DNs') on ``port`` (the lab registrar): ``registrations`` of
        them, or, by default, every one until ``close()`` (re-registrations and retransmissions
        included: a retransmitted REGISTER counts as another one for sipp)."""
        return await self.start(
            "genesys_registrar", ip=GENESYS_IP, port=port, calls=registrations, listening=True
        )

    # ------------------------------------------------------------------ agent phones
    async def phone_answer(self, dn: str, pause_ms: int = 300) -> SippCall:
        """The phone of ``dn`` rings, answers after ``pause_ms`` and waits for BYE."""
        return await self.start(
            "phone_answer", ip=self.phones[dn], port=PHONE_PORT, pause_ms=pause_ms, listening=True
        )

    async def phone_ring(self, dn: str) -> SippCall:
        """The phone of ``dn`` only rings; it ends when the call is cancelled."""
        return await self.start("phone_ring", ip=self.phones[dn], port=PHONE_PORT, listening=True)

    async def phone_call(self, dn: str, target: str, pause_ms: int = 1000) -> SippCall:
        """The phone of ``dn`` calls ``target`` (through from-webrtc to Genesys), talks, hangs up."""
        return await self.start(
            "phone_call",
            ip=self.phones[dn],
            port=PHONE_PORT + 1,
            service=target,
            keys={"dn": dn},
            pause_ms=pause_ms,
            auth=(dn, self.passwords[dn]),
        )

    async def close(self, grace_s: float = 0.0) -> None:
        """Kill every sipp still running, after giving them ``grace_s`` to finish their calls."""
        running = [c.process for c in self.calls if c.process.returncode is None]
        if running and grace_s > 0:
            await asyncio.wait([asyncio.create_task(p.wait()) for p in running], timeout=grace_s)
        for call in self.calls:
            await call.kill()
