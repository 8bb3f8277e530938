"""Asterisk's own word over AMI (a connection of the test's, apart from the bridge's):
``CoreShowChannels`` -> the channels now up, with where each is bridged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fixtures_asterisk import LabAsterisk


@dataclass(frozen=True)
class Channel:
    name: str
    state: str  # ChannelStateDesc: Up, Ringing, Ring, ...
    application: str
    bridge: str  # BridgeId, "" when not bridged
    call_uuid: str  # the X-Genesys-CallUUID the dialplan keeps as the channel's linkedid peer var


def _blocks(text: str) -> list[dict[str, str]]:
    blocks = []
    for chunk in text.split("\r\n\r\n"):
        fields = dict(line.split(": ", 1) for line in chunk.split("\r\n") if ": " in line)
        if fields:
            blocks.append(fields)
    return blocks


async def channels(asterisk: LabAsterisk) -> list[Channel]:
    reader, writer = await asyncio.open_connection(asterisk.ami_host, asterisk.ami_port)
    try:
        await reader.readline()  # the greeting
        writer.write(f"Action: Login\r\nUsername: {asterisk.ami_user}\r\nSecret: {asterisk.ami_secret}\r\n"
                     "Events: off\r\n\r\nAction: CoreShowChannels\r\nActionID: e2e\r\n\r\n".encode())
        text = (await asyncio.wait_for(reader.readuntil(b"Event: CoreShowChannelsComplete"), 5)).decode()
    finally:
        writer.close()
    return [Channel(b["Channel"], b.get("ChannelStateDesc", ""), b.get("Application", ""),
                    b.get("BridgeId", ""), b.get("Linkedid", ""))
            for b in _blocks(text) if b.get("Event") == "CoreShowChannel"]


async def no_channels_of(asterisk: LabAsterisk, dn: str, within_s: float = 10.0) -> None:
    """Asterisk has hung up every channel of ``dn``'s phone (BYEs take a moment)."""
    async with asyncio.timeout(within_s):
        # this connection asks with Events: off, so there is no event to wait on: poll, bounded
        while any(c.name.startswith(f"PJSIP/{dn}-") for c in await channels(asterisk)):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
