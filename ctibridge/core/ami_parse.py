"""AMI wire format -> raw messages -> normalized events.

Two steps, both pure:

* ``AmiFramer`` turns the bytes of an AMI socket (CRLF or LF, any chunking) into raw messages:
  ``dict[str, str | list[str]]`` in wire order, a repeated key becoming a list. Bytes are kept
  until a frame is complete and only then decoded, so a UTF-8 character split across two reads
  arrives intact (panoramisk decodes per read and drops it).
* ``parse_ami`` turns one raw message into an event of ``ctibridge.core.events``, or ``None`` for
  the many kinds the correlator does not need (VarSet of other variables, Newexten noise,
  TestEvent, RTCP, DeviceStateChange, ...). Malformed messages become ``ParseError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace

from ctibridge.core import dialplan
from ctibridge.core.events import (
    EMPTY,
    AmiLink,
    BridgeUpdate,
    Channel,
    ChannelHangup,
    ChannelUpdate,
    DialUpdate,
    HoldUpdate,
    InboundEvent,
    ParseError,
    TransferUpdate,
)

RawValue = str | list[str]
RawMessage = dict[str, RawValue]

GREETING_KEY = "_greeting"
TRACKED_VARS = frozenset(dialplan.TRACKED_VARS)
MAX_FRAME = 1 << 20  # a frame larger than 1 MiB is not AMI; drop it rather than grow forever


class AmiFramer:
    """Sans-IO framer: ``feed(bytes) -> [raw message, ...]``."""

    __slots__ = ("_buf", "_greeted", "_sep", "oversized")

    def __init__(self, expect_greeting: bool = True) -> None:
        self._buf = bytearray()
        self._greeted = not expect_greeting
        self._sep = b""  # b"\r\n\r\n" or b"\n\n", learnt from the first line ending seen
        self.oversized = 0

    def feed(self, data: bytes) -> list[RawMessage]:
        buf = self._buf
        buf += data
        out: list[RawMessage] = []
        if not self._greeted:
            nl = buf.find(b"\n")
            if nl < 0:
                return self._bounded(out)
            line = bytes(buf[:nl]).decode("utf-8", "replace").rstrip("\r")
            if line.startswith("Asterisk Call Manager"):
                out.append({GREETING_KEY: line})
                del buf[: nl + 1]
            self._greeted = True
        if not self._sep:
            nl = buf.find(b"\n")
            if nl < 0:
                return self._bounded(out)
            self._sep = b"\r\n\r\n" if nl > 0 and buf[nl - 1] == 0x0D else b"\n\n"
        sep, size = self._sep, len(self._sep)
        start = 0
        while True:
            end = buf.find(sep, start)
            if end < 0:
                break
            frame = bytes(buf[start:end])
            start = end + size
            if frame.strip():
                out.append(parse_frame(frame.decode("utf-8", "replace")))
        del buf[:start]
        return self._bounded(out)

    def _bounded(self, out: list[RawMessage]) -> list[RawMessage]:
        if len(self._buf) > MAX_FRAME:
            self.oversized += 1
            self._buf.clear()
        return out


def parse_frame(text: str) -> RawMessage:
    """One AMI block ("Key: Value" lines) -> raw message. Lines without a colon are kept under
    ``_content`` (the body of ``Response: Follows``)."""
    msg: RawMessage = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        key, sep, value = line.partition(": ")  # the hot path: "Key: Value"
        if not sep or " " in key:
            key, sep, value = line.partition(":")  # "Key:" (empty), "Key:Value", or body text
            if not sep or " " in key:
                if line:
                    prev = msg.get("_content", "")
                    msg["_content"] = f"{prev}\n{line}" if prev else line
                continue
        old = msg.get(key)
        if old is None:
            msg[key] = value
        elif isinstance(old, str):
            msg[key] = [old, value]
        else:
            old.append(value)
    return msg


def iter_capture(data: bytes) -> Iterator[RawMessage]:
    """Raw messages of a whole capture file (the bytes of an AMI socket)."""
    framer = AmiFramer()
    yield from framer.feed(data)
    yield from framer.feed(framer._sep or b"\n\n")  # flush a last frame without its blank line


# --------------------------------------------------------------------------- normalization


def _s(raw: Mapping[str, RawValue], key: str) -> str:
    value = raw.get(key, "")
    return value if isinstance(value, str) else value[-1]


def _vars(raw: Mapping[str, RawValue], key: str) -> Mapping[str, str]:
    value = raw.get(key)
    if value is None:
        return EMPTY
    items = [value] if isinstance(value, str) else value
    out: dict[str, str] = {}
    for item in items:
        name, _, val = item.partition("=")
        out[name] = val
    return out


def _unknown(value: str) -> str:
    return "" if value == "<unknown>" else value


def channel(raw: Mapping[str, RawValue], prefix: str = "") -> Channel | None:
    """The channel block with ``prefix`` (``""``, ``Dest``, ``Transferer``...), if present."""
    uid = raw.get(prefix + "Uniqueid")
    if not isinstance(uid, str) or not uid:
        return None
    state_text = _s(raw, prefix + "ChannelState")
    state = int(state_text) if state_text.isdigit() else 0
    var_key = "ChanVariable" if not prefix else prefix + "ChanVariable"
    return Channel(
        uniqueid=uid,
        linkedid=_s(raw, prefix + "Linkedid") or uid,
        name=_s(raw, prefix + "Channel"),
        state=state,
        context=_s(raw, prefix + "Context"),
        exten=_s(raw, prefix + "Exten"),
        caller_num=_unknown(_s(raw, prefix + "CallerIDNum")),
        caller_name=_unknown(_s(raw, prefix + "CallerIDName")),
        connected_num=_unknown(_s(raw, prefix + "ConnectedLineNum")),
        connected_name=_unknown(_s(raw, prefix + "ConnectedLineName")),
        vars=_vars(raw, var_key),
    )


def _required(raw: Mapping[str, RawValue], t: float, prefix: str = "") -> Channel:
    ch = channel(raw, prefix)
    if ch is None:
        raise _Malformed(f"{_s(raw, 'Event')}: missing {prefix}Uniqueid")
    return ch


class _Malformed(Exception):
    pass


def _channel_update(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    return ChannelUpdate(t, _s(raw, "Event"), _required(raw, t))


def _listed_channel(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    # CoreShowChannel says BridgeId, Status says BridgeID.
    bridge = _s(raw, "BridgeId") or _s(raw, "BridgeID")
    return ChannelUpdate(t, _s(raw, "Event"), _required(raw, t), bridge_id=bridge,
                         application=_s(raw, "Application"))


def _varset(raw: Mapping[str, RawValue], t: float) -> InboundEvent | None:
    name = _s(raw, "Variable").lstrip("_")
    if name not in TRACKED_VARS:
        return None
    ch = _required(raw, t)
    merged = dict(ch.vars)
    merged[name] = _s(raw, "Value")
    return ChannelUpdate(t, "VarSet", replace(ch, vars=merged))


def _dial(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    return DialUpdate(t, channel(raw), _required(raw, t, "Dest"), _s(raw, "DialStatus"))


def _bridge(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    bridge_id = _s(raw, "BridgeUniqueid")
    if not bridge_id:
        raise _Malformed(f"{_s(raw, 'Event')}: missing BridgeUniqueid")
    return BridgeUpdate(t, bridge_id, _required(raw, t), _s(raw, "Event") == "BridgeEnter")


def _hold(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    event = _s(raw, "Event")
    music = event.startswith("MusicOnHold")
    held = event in ("Hold", "MusicOnHoldStart")
    return HoldUpdate(t, _required(raw, t), held, music)


def _hangup(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    cause = _s(raw, "Cause")
    return ChannelHangup(t, _required(raw, t), int(cause) if cause.isdigit() else 0, _s(raw, "Cause-txt"))


def _blind(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    return TransferUpdate(t, "blind", _s(raw, "Result"), channel(raw, "Transferer"),
                          channel(raw, "Transferee"), None, _s(raw, "Extension"))


def _attended(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    return TransferUpdate(t, "attended", _s(raw, "Result"), channel(raw, "OrigTransferer"),
                          channel(raw, "Transferee"), channel(raw, "TransferTarget"))


def _booted(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    uptime = _s(raw, "Uptime")
    return AmiLink(t, "booted", float(uptime) if uptime.replace(".", "", 1).isdigit() else None)


def _shutdown(raw: Mapping[str, RawValue], t: float) -> InboundEvent:
    return AmiLink(t, "shutdown")


Handler = Callable[[Mapping[str, RawValue], float], "InboundEvent | None"]

HANDLERS: dict[str, Handler] = {
    "Newchannel": _channel_update,
    "Newstate": _channel_update,
    "NewCallerid": _channel_update,
    "NewConnectedLine": _channel_update,
    "Newexten": _channel_update,
    "CoreShowChannel": _listed_channel,
    "Status": _listed_channel,
    "VarSet": _varset,
    "DialBegin": _dial,
    "DialState": _dial,
    "DialEnd": _dial,
    "BridgeEnter": _bridge,
    "BridgeLeave": _bridge,
    "Hold": _hold,
    "Unhold": _hold,
    "MusicOnHoldStart": _hold,
    "MusicOnHoldStop": _hold,
    "Hangup": _hangup,
    "BlindTransfer": _blind,
    "AttendedTransfer": _attended,
    "FullyBooted": _booted,
    "Shutdown": _shutdown,
}

def parse_ami(raw: Mapping[str, RawValue], t: float) -> InboundEvent | None:
    """One raw AMI message from the wire -> one event, ``None`` when the correlator has no use for
    it. Only the wire's own events are read: the link's life events the adapter reports (lost,
    connected, ...) come as ``AmiLink`` through another path, never from a frame's headers, so a
    frame carrying the event log's internal keys cannot end the live calls."""
    try:
        event = raw.get("Event")
        if event is None:
            return None  # responses, greeting
        if not isinstance(event, str):
            return ParseError(t, "ami", "Event header repeated", repr(event)[:200])
        handler = HANDLERS.get(event)
        return handler(raw, t) if handler is not None else None
    except (_Malformed, ValueError, TypeError, AttributeError) as exc:
        return ParseError(t, "ami", str(exc) or type(exc).__name__, repr(dict(raw))[:200])
