"""The one event-log format: JSON Lines, both sources on one timeline (``docs/event-log.md``).

Each line is one record::

    {"t": 12.503, "src": "ami", "dir": "in", "conn": "gw1", "msg": {...}}

``src`` is ``ami`` | ``gws`` | ``bridge`` | ``widget`` | ``meta``; ``dir`` is ``in`` (received),
``out`` (sent) or ``meta`` (a life event of a link: ``{"_link": "lost"}``). For ``gws`` records
``conn`` is the agent's DN.

Two namespaces: ``in`` records hold what a peer sent, read only as the wire's messages; the
``_link`` key means a link event only in a ``meta`` record (written by the bridge itself). An AMI
frame whose headers happen to say ``_link: shutdown`` is therefore just an unknown frame, live and
on replay alike. Recording, replay and the regression tests all use this format; the
reader also accepts raw AMI captures (the bytes of an AMI socket) and single GWS message files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ctibridge.core.ami_parse import iter_capture, parse_ami
from ctibridge.core.events import AmiLink, GwsLink, InboundEvent, ParseError
from ctibridge.core.gws_parse import parse_gws

# The key of a ``meta`` record's link status: {"_link": "lost"}.
LINK_KEY = "_link"

# Raw AMI captures carry no time: their messages are spaced this far apart on replay.
CAPTURE_SPACING = 0.001


@dataclass(frozen=True, slots=True)
class Record:
    t: float
    src: str
    dir: str
    msg: dict[str, Any]
    conn: str = ""

    def to_json(self) -> str:
        data: dict[str, Any] = {"t": round(self.t, 6), "src": self.src, "dir": self.dir}
        if self.conn:
            data["conn"] = self.conn
        data["msg"] = self.msg
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Rotation:
    """When the live log starts a new file, and how many rotated files stay on disk."""

    max_bytes: int | None = None  # rotate once the file reaches this size
    max_age_s: float | None = None  # ... or once its first record is this old
    keep: int = 10  # rotated files kept (the oldest are deleted)


class EventLogWriter:
    """Appends records to a JSON Lines file (or any text stream), and hands each record to the
    ``observers`` (the timeline index). Without a target it only feeds the observers.

    With ``rotation`` (files only), the file is renamed to ``<name>.<UTC time of its first
    record>`` when it grows past ``max_bytes`` or ages past ``max_age_s``, and only the newest
    ``keep`` rotated files are kept: the log never fills the disk, and ``ctibridge replay
    <name>.*`` reads them back in order."""

    def __init__(self, target: str | Path | IO[str] | None, *, rotation: Rotation | None = None,
                 observers: Iterable[Callable[[Record], None]] = ()) -> None:
        self.path = Path(target) if isinstance(target, (str, Path)) else None
        self.rotation = rotation if self.path is not None else None
        self.observers = list(observers)
        self._file: IO[str] | None = None if isinstance(target, (str, Path)) else target
        self._size = 0
        self._first_t: float | None = None  # time of the current file's first record
        if self.path is not None:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        self._file = open(self.path, "a", encoding="utf-8")
        self._size = self._file.tell()
        self._first_t = None

    def write(self, src: str, dir: str, msg: dict[str, Any], t: float, conn: str = "") -> None:
        record = Record(t, src, dir, msg, conn)
        for observe in self.observers:
            observe(record)
        if self._file is None:
            return
        if self.rotation is not None and self._due(t):
            self._rotate()
        line = record.to_json() + "\n"
        self._file.write(line)
        self._size += len(line)  # characters: close enough to bytes for a size limit
        if self._first_t is None:
            self._first_t = t

    def _due(self, t: float) -> bool:
        rotation = self.rotation
        assert rotation is not None
        if self._size == 0:
            return False
        too_big = rotation.max_bytes is not None and self._size >= rotation.max_bytes
        first = self._first_t if self._first_t is not None else t
        too_old = rotation.max_age_s is not None and t - first >= rotation.max_age_s
        return too_big or too_old

    def _rotate(self) -> None:
        assert self.path is not None and self.rotation is not None and self._file is not None
        self._file.close()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._first_t or time.time()))
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        n = 1
        while target.exists():  # two rotations within a second
            target = self.path.with_name(f"{self.path.name}.{stamp}-{n}")
            n += 1
        self.path.rename(target)
        for old in self.rotated()[: -self.rotation.keep or None]:
            old.unlink(missing_ok=True)
        self._open()

    def rotated(self) -> list[Path]:
        """The rotated files of this log, oldest first (their names sort by time)."""
        if self.path is None:
            return []
        return sorted(self.path.parent.glob(f"{self.path.name}.*"))

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            if self.path is not None:
                self._file.close()


def read_records(path: str | Path) -> Iterator[Record]:
    """Records of one file, whatever its kind: event log, raw AMI capture, or GWS message JSON."""
    data = Path(path).read_bytes()
    head = data.lstrip()[:1]
    if head == b"{":
        try:
            doc = json.loads(data)
        except json.JSONDecodeError:
            yield from _jsonl(data)
            return
        if isinstance(doc, dict) and "channel" in doc:  # one Bayeux message (recorded GWS traffic)
            yield Record(float(doc.get("_recorded_at", 0.0) or 0.0), "gws", "in", doc)
        else:
            yield from _jsonl(data)
        return
    for i, raw in enumerate(iter_capture(data)):
        yield Record(i * CAPTURE_SPACING, "ami", "in", dict(raw))


def _jsonl(data: bytes) -> Iterator[Record]:
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            msg = obj["msg"]
            yield Record(float(obj["t"]), str(obj.get("src", "ami")), str(obj.get("dir", "in")),
                         msg if isinstance(msg, dict) else {"_value": msg}, str(obj.get("conn", "")))
        except (ValueError, KeyError, TypeError) as exc:
            yield Record(0.0, "meta", "meta", {"_parse_error": f"line {n}: {exc}", "_line": line[:200]})


def merge(streams: Iterable[Iterable[Record]]) -> list[Record]:
    """Several logs on one timeline (stable: equal times keep file order)."""
    records = [r for stream in streams for r in stream]
    records.sort(key=lambda r: r.t)
    return records


# Old lab recordings mark link events as {"_meta": "..."}.
_LAB_META = {"reconnected": "connected"}


def to_event(record: Record) -> InboundEvent | None:
    """The core event for an inbound record, None for outbound and unrelated records."""
    if record.dir == "out" or record.src in ("bridge", "widget"):
        return None
    msg = record.msg
    if "_parse_error" in msg:
        return ParseError(record.t, "log", str(msg["_parse_error"]), str(msg.get("_line", "")))
    if record.dir == "meta":
        return _link_event(record)
    if record.src == "ami":
        return parse_ami(msg, record.t)
    if record.src == "gws":
        return parse_gws(msg, record.t, dn=record.conn)
    return None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def link_record(event: AmiLink | GwsLink) -> tuple[str, str, dict[str, Any]]:
    """(src, dir, msg) of a link event, the inverse of ``to_event``; the caller adds t and conn
    (the DN)."""
    if isinstance(event, AmiLink):
        uptime = {} if event.uptime is None else {"uptime": event.uptime}
        return "ami", "meta", {LINK_KEY: event.status, **uptime}
    return "gws", "meta", {LINK_KEY: event.status, "detail": event.detail}


def _link_event(record: Record) -> AmiLink | GwsLink | None:
    msg = record.msg
    if record.src == "ami":
        if "_meta" in msg:
            text = str(msg["_meta"])
            return AmiLink(record.t, _LAB_META.get(text, "lost" if "closed" in text else text))
        return AmiLink(record.t, str(msg.get(LINK_KEY, "")), _number(msg.get("uptime")))
    if record.src == "gws":
        return GwsLink(record.t, record.conn or str(msg.get("dn", "")), str(msg.get(LINK_KEY, "")),
                       str(msg.get("detail", "")))
    return None
