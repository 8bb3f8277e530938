"""Candidate replacements for the core's AMI framing, measured against it (bench only).

The core is the lead's; these exist to put figures behind the proposed change
(docs/performance.md). Each keeps the ``AmiFramer`` contract: bytes in any chunking, whole frames
decoded, ``dict[str, str | list[str]]`` in wire order, repeated keys as lists.

* ``SplitFramer``: one ``bytes.split`` per read instead of a ``find`` and a copy per frame, and
  line parsing with one ``split("\\r\\n")`` and ``partition(": ")``.
* ``SelectiveFramer``: as ``SplitFramer``, but a frame whose ``Event`` the core ignores (about 60%
  of a real call's frames: VarSet of other variables, TestEvent, Newexten...) is returned as just
  ``{"Event": name}`` without building its dict.
"""

from __future__ import annotations

from ctibridge.core.ami_parse import HANDLERS, TRACKED_VARS, RawMessage, parse_frame

WANTED_EVENTS = frozenset(HANDLERS) - {"VarSet"}
_TRACKED = frozenset(name.encode() for name in TRACKED_VARS)
_VARIABLE = b"\r\nVariable: "


class SplitFramer:
    """CRLF streams only (Asterisk always sends CRLF); the core framer also accepts bare LF."""

    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = b""

    def frames(self, data: bytes) -> list[bytes]:
        parts = (self._tail + data).split(b"\r\n\r\n") if self._tail else data.split(b"\r\n\r\n")
        self._tail = parts.pop()
        return parts

    def feed(self, data: bytes) -> list[RawMessage]:
        return [parse_frame(f.decode("utf-8", "replace")) for f in self.frames(data) if f]


class SelectiveFramer(SplitFramer):
    __slots__ = ()

    def feed(self, data: bytes) -> list[RawMessage]:
        out: list[RawMessage] = []
        for frame in self.frames(data):
            if frame.startswith(b"Event: "):
                end = frame.find(b"\r\n")
                name = (frame[7:end] if end >= 0 else frame[7:]).decode("utf-8", "replace")
                if name not in WANTED_EVENTS and not (name == "VarSet" and _tracked(frame)):
                    out.append({"Event": name})
                    continue
            if frame:
                out.append(parse_frame(frame.decode("utf-8", "replace")))
        return out


def _tracked(frame: bytes) -> bool:
    start = frame.find(_VARIABLE)
    if start < 0:
        return True  # malformed: let parse_ami report it
    start += len(_VARIABLE)
    end = frame.find(b"\r\n", start)
    return frame[start:end if end >= 0 else None].lstrip(b"_") in _TRACKED

