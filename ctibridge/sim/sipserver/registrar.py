"""The SIP Server's registrar for the gateway's DN registrations: Debian's kamailio.

Asterisk registers every agent DN toward Genesys (``type=registration`` in pjsip.conf) and sends
them to ``GatewaySettings.registrar`` (127.0.0.2:5070 in the lab profile). kamailio's
``registrar`` module answers them for as long as it runs, with an ``Expires`` it caps at
``expires_s``, so a short value makes Asterisk re-register often. Each REGISTER is logged on
kamailio's stderr, which is how ``registers(dn)`` counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections import Counter
from pathlib import Path

from ctibridge.sim.sipserver.processes import end

CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:{host}:{port}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 1)
modparam("registrar", "max_expires", {expires})
modparam("registrar", "default_expires", {expires})
request_route {{
    if (is_method("REGISTER")) {{
        xlog("L_NOTICE", "ctibridge-register dn=$tU\\n");
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""
_REGISTER = re.compile(r"ctibridge-register dn=(\S+)")


def available() -> bool:
    return shutil.which("kamailio") is not None


class Registrar:
    """``await start()``; ``registers(dn)`` REGISTERs answered so far; ``await stop()``."""

    def __init__(self, workdir: Path, host: str, port: int, expires_s: int = 300) -> None:
        self.workdir, self.host, self.port, self.expires_s = workdir, host, port, expires_s
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._counts: Counter[str] = Counter()

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "kamailio.cfg"
        text = CONFIG.format(host=self.host, port=self.port, expires=self.expires_s)
        config.write_text(text, encoding="utf-8")
        self._counts.clear()
        self._process = await asyncio.create_subprocess_exec(
            "kamailio", "-f", str(config), "-DD", "-E", "-m", "16", "-M", "4",
            "-Y", str(self.workdir), "-w", str(self.workdir),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(self._process))
        try:
            await asyncio.wait_for(self._answering(), 10)
        except TimeoutError:
            await self.stop()
            raise RuntimeError(f"kamailio did not answer on {self.host}:{self.port}") from None

    async def _answering(self) -> None:
        """Until kamailio answers a probe: a REGISTER sent before that would be lost, and Asterisk
        would wait its retry interval (60 s) before the next."""
        loop = asyncio.get_running_loop()
        answered = loop.create_future()

        class Probe(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if not answered.done():
                    answered.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Probe, local_addr=(self.host, 0))
        try:
            port = transport.get_extra_info("sockname")[1]
            probe = (f"OPTIONS sip:{self.host}:{self.port} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP {self.host}:{port};branch=z9hG4bK-probe\r\n"
                     f"From: <sip:probe@{self.host}>;tag=probe\r\nTo: <sip:{self.host}>\r\n"
                     "Call-ID: ctibridge-registrar-probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                     "Content-Length: 0\r\n\r\n").encode()
            while not answered.done():
                transport.sendto(probe, (self.host, self.port))
                await asyncio.wait([answered], timeout=0.1)
        finally:
            transport.close()

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace")
            if match := _REGISTER.search(line):
                self._counts[match.group(1)] += 1

    def registers(self, dn: str) -> int:
        return self._counts[dn]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            await end(process, process.terminate)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
