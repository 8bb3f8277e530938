"""Bytes -> raw AMI dicts, decoding whole frames only (a UTF-8 character split across TCP reads
survives). Interim: to be replaced by ``ctibridge.core.ami_parse.AmiFramer`` (same ``feed`` API)
once the core has it.
"""

from __future__ import annotations

RawMessage = dict[str, str | list[str]]

GREETING = b"Asterisk Call Manager/"


class AmiFramer:
    def __init__(self) -> None:
        self._buffer = b""
        self._greeted = False

    def feed(self, data: bytes) -> list[RawMessage]:
        self._buffer += data
        frames: list[RawMessage] = []
        if not self._greeted:
            # The greeting is a single CRLF-terminated line, not a blank-line-terminated frame.
            line, sep, rest = self._buffer.partition(b"\r\n")
            if not sep:
                return frames
            self._greeted = True
            if line.startswith(GREETING):
                frames.append({"_greeting": line.decode("utf-8", "replace")})
                self._buffer = rest
        *complete, self._buffer = self._buffer.split(b"\r\n\r\n")
        frames.extend(parse_frame(block.decode("utf-8", "replace")) for block in complete if block.strip())
        return frames


def parse_frame(text: str) -> RawMessage:
    """``Key: value`` lines in wire order; a repeated key becomes a list of its values."""
    frame: RawMessage = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep or not key:
            continue
        value = value[1:] if value.startswith(" ") else value
        previous = frame.get(key)
        if previous is None:
            frame[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            frame[key] = [previous, value]
    return frame
