"""``ctibridge record``: write a live AMI session as an event log (docs/event-log.md).

    ctibridge record --ami-host 127.0.0.1 --ami-port 5038 --ami-user U --ami-secret-file F \\
        --out LOG.jsonl [--duration S]

Every inbound AMI message is a ``src=ami dir=in`` record, every action sent a ``dir=out`` record
(the Login secret masked), and the adapter's life events (connected, lost, resync_begin,
resync_end) ``dir=meta`` records ``{"_link": status}`` that replay turns into ``AmiLink``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from ctibridge.ami.client import AmiClient, AmiSettings
from ctibridge.core.ami_parse import RawMessage
from ctibridge.logs.eventlog import LINK_KEY, EventLogWriter

# FullyBooted and Shutdown are in the AMI stream itself and parse into AmiLink on replay:
# a meta record for them would make replay see each twice.
IN_STREAM_LINKS = frozenset({"booted", "shutdown"})


class AmiRecorder:
    """AmiClient callbacks that append to an event log."""

    def __init__(self, writer: EventLogWriter, conn: str = "ami") -> None:
        self.writer, self.conn = writer, conn

    def on_message(self, raw: RawMessage, t: float) -> None:
        self.writer.write("ami", "in", dict(raw), t, self.conn)

    def on_sent(self, action: RawMessage, t: float) -> None:
        self.writer.write("ami", "out", dict(action), t, self.conn)

    def on_link(self, status: str, t: float, uptime: float | None) -> None:
        if status not in IN_STREAM_LINKS:
            self.writer.write("ami", "meta", {LINK_KEY: status}, t, self.conn)
            self.writer.flush()  # a link event is rare and worth having on disk at once

    def client(self, settings: AmiSettings) -> AmiClient:
        return AmiClient(settings, self.on_message, self.on_link, self.on_sent)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ctibridge record",
                                description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("--ami-host", default="127.0.0.1")
    p.add_argument("--ami-port", type=int, default=5038)
    p.add_argument("--ami-user", required=True)
    p.add_argument("--ami-secret-file", type=Path, required=True, help="file holding the AMI secret")
    p.add_argument("--out", type=Path, required=True, help="event log to append to (JSON Lines)")
    p.add_argument("--duration", type=float, default=None, help="seconds to record (default: until ^C)")
    p.add_argument("--conn", default="ami", help="connection name written in each record")
    return p


async def record(settings: AmiSettings, out: Path, duration_s: float | None, conn: str = "ami") -> None:
    writer = EventLogWriter(out)
    client = AmiRecorder(writer, conn).client(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await client.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration_s)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await client.close()
        writer.close()


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    secret = args.ami_secret_file.read_text(encoding="utf-8").rstrip("\r\n")
    settings = AmiSettings(host=args.ami_host, port=args.ami_port, username=args.ami_user, secret=secret)
    asyncio.run(record(settings, args.out, args.duration, args.conn))
    return 0
