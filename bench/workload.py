"""Synthetic load from real captures: the Asterisk 22 recordings tiled into many concurrent calls.

Each capture (``tests/recordings/asterisk-22``, one call each) becomes a template: its call frames
with every identifier (Uniqueid/Linkedid, channel names, bridge ids, DNs, CALLUUID, SIPCALLID)
marked. A copy gets fresh identifiers and its own agent DN, so copies never correlate with each
other. ``concurrent_stream`` interleaves copies so that ``calls`` are live at any moment, and adds
the GWS v2 messages (built by ``ctibridge.sim.gws.calls``) Genesys would publish for the same calls.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).resolve().parent.parent / "tests" / "recordings" / "asterisk-22"
# h_restart is an Asterisk restart, not a call: tiled, it would end every live channel.
SKIPPED = {"h_restart.ami.txt"}
# Session frames, not call traffic.
DROPPED_EVENTS = {"FullyBooted", "SuccessfulAuth", "Shutdown"}
AGENT_DNS = ("5001", "5002")
GWS_BASE = "http://gws.bench:8090"
GREETING = b"Asterisk Call Manager/11.0.0\r\n"

_TOKEN = re.compile(
    r"(?P<chan>PJSIP/(?P<ep>\w+)-[0-9a-f]{8})"
    r"|(?P<uid>\b\d{10}\.\d+\b)"
    r"|(?P<bridge>\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)"
    r"|(?P<dn>\b500[12]\b)"
    r"|(?:(?<=CALLUUID=)|(?<=SIPCALLID=)|(?<=Value: ))(?P<var>[^\r\n]+)")


@dataclass(slots=True)
class Template:
    name: str
    frames: list[list[str | tuple[str, str]]]  # per frame: literal text and (kind, token) pieces
    gws_after: dict[int, str]  # frame index -> Genesys call state announced after it
    caller: str = ""


@dataclass(slots=True)
class CallIds:
    """Fresh identifiers of one copy."""

    dn: str
    serial: int
    call_uuid: str
    known: dict[str, str] = field(default_factory=dict)

    def fresh(self, kind: str, token: str, counter: Iterator[int]) -> str:
        found = self.known.get(token)
        if found is not None:
            return found
        if kind == "uid":
            new = f"1800000000.{next(counter)}"
        elif kind == "chan":
            endpoint = token[6:].rsplit("-", 1)[0]
            endpoint = self.dn if endpoint == "5001" else endpoint
            new = f"PJSIP/{endpoint}-{next(counter):08x}"
        elif kind == "bridge":
            new = f"{self.serial:08x}-0000-4000-8000-{next(counter):012x}"
        elif kind == "dn":
            new = self.dn if token == "5001" else f"7{self.dn}"  # 5002: a number the agent dials
        elif token.isalnum() and len(token) >= 20:  # a CALLUUID value
            new = self.call_uuid
        elif "@" in token:  # a SIP Call-ID
            new = f"bench-{self.serial}@127.0.0.2"
        else:
            new = token  # a Value: of some other variable
        self.known[token] = new
        return new


def load_templates(directory: Path = RECORDINGS) -> list[Template]:
    templates = []
    for path in sorted(directory.glob("*.ami.txt")):
        if path.name not in SKIPPED:
            templates.append(_template(path))
    if not templates:
        raise FileNotFoundError(f"no AMI captures in {directory}")
    return templates


def _template(path: Path) -> Template:
    text = path.read_bytes().decode("utf-8")
    blocks = [b for b in re.split(r"\r\n\r\n", text) if b.strip()]
    frames, events = [], []
    for block in blocks:
        if block.startswith("Asterisk Call Manager"):
            block = block.split("\r\n", 1)[1] if "\r\n" in block else ""
        event = block.partition("Event: ")[2].partition("\r\n")[0] if block.startswith("Event: ") else ""
        if not event or event in DROPPED_EVENTS:
            continue  # responses to the recorder's own actions, session events
        frames.append(_pieces(block + "\r\n\r\n"))
        events.append((event, block))
    caller = ""
    for _, block in events:
        if "PJSIP/genesys" in block and (m := re.search(r"CallerIDNum: (\S+)", block)):
            caller = m.group(1)
            break
    gws_after: dict[int, str] = {}
    if "CALLUUID=" in text and re.search(r"CALLUUID=[A-Z0-9]", text):
        gws_after = _genesys_states([e for e, _ in events])
    return Template(path.name.removesuffix(".ami.txt"), frames, gws_after, caller)


def _pieces(block: str) -> list[str | tuple[str, str]]:
    out: list[str | tuple[str, str]] = []
    pos = 0
    for m in _TOKEN.finditer(block):
        out.append(block[pos:m.start()])
        kind = m.lastgroup if m.lastgroup != "ep" else "chan"
        kind = "chan" if m.group("chan") else kind
        out.append((kind or "var", m.group(0)))
        pos = m.end()
    out.append(block[pos:])
    return out


def _genesys_states(events: list[str]) -> dict[int, str]:
    """Where Genesys would report each state change of the call, by the Asterisk frame it follows."""
    marks: dict[int, str] = {}
    first = {name: events.index(name) for name in ("Newchannel", "BridgeEnter", "Hangup") if name in events}
    if "Newchannel" in first:
        marks[first["Newchannel"]] = "Ringing"
    if "BridgeEnter" in first:
        marks[first["BridgeEnter"]] = "Established"
    for i, name in enumerate(events):
        if name == "Hold":
            marks[i] = "Held"
        elif name == "Unhold":
            marks[i] = "Established"
    if "Hangup" in first:
        marks[first["Hangup"]] = "Released"
    return marks


def gws_available() -> bool:
    """The GWS simulator builds the Genesys messages; without it the load is AMI only."""
    try:
        import ctibridge.sim.gws.calls  # noqa: F401
    except ImportError:
        return False
    return True


Item = tuple[str, str, Any]  # ("ami", "", frame bytes) | ("gws", dn, Bayeux message)


@dataclass(slots=True)
class Copy:
    template: Template
    ids: CallIds
    sim: Any  # ctibridge.sim.gws.calls.SimCall, or None for a call Genesys does not report
    pos: int = 0


def new_copy(template: Template, dn: str, serial: int, with_gws: bool = True) -> Copy:
    """One call of ``template`` on ``dn`` with fresh identifiers (``serial`` makes them unique)."""
    ids = CallIds(dn, serial, f"BENCH{serial:027d}")
    sim = None
    if with_gws and template.gws_after and gws_available():
        from ctibridge.sim.gws.calls import SimCall
        caller = template.caller or "+15550001000"
        sim = SimCall(dn, ids.call_uuid, "Ringing", "Inbound", [caller], dnis=dn, ani=caller)
    return Copy(template, ids, sim)


def call_items(copy: Copy, frames: range, counter: Iterator[int]) -> Iterator[Item]:
    """The AMI frames ``frames`` of one call, each followed by the GWS message due after it."""
    for i in frames:
        yield "ami", "", render(copy, i, counter)
        state = copy.template.gws_after.get(i) if copy.sim is not None else None
        if state is not None:
            yield "gws", copy.ids.dn, gws_message(copy, state)


def render(copy: Copy, index: int, counter: Iterator[int]) -> bytes:
    parts = []
    for piece in copy.template.frames[index]:
        parts.append(piece if isinstance(piece, str) else copy.ids.fresh(piece[0], piece[1], counter))
    return "".join(parts).encode("utf-8")


def gws_message(copy: Copy, state: str) -> dict[str, Any]:
    from ctibridge.sim.gws.calls import call_message

    copy.sim.state = state
    data = call_message(copy.sim, "StatusChange", GWS_BASE, f"dev-{copy.ids.dn}")
    return {"channel": "/v2/me/calls", "data": data}


def concurrent_stream(templates: list[Template], *, calls: int, messages: int, first_dn: int = 10000,
                      with_gws: bool = True, seed: int = 1) -> Iterator[Item]:
    """``messages`` inbound messages with ``calls`` calls live at any moment, one DN per slot."""
    with_gws = with_gws and gws_available()
    rng = random.Random(seed)
    counter = iter(range(1, 1 << 62))
    serial = iter(range(1, 1 << 62))

    def fresh(slot: int) -> Copy:
        template = templates[rng.randrange(len(templates))]
        return new_copy(template, str(first_dn + slot), next(serial), with_gws)

    slots = [fresh(i) for i in range(calls)]
    sent = 0
    while sent < messages:
        slot = rng.randrange(calls)
        copy = slots[slot]
        for item in call_items(copy, range(copy.pos, copy.pos + 1), counter):
            yield item
            sent += 1
        copy.pos += 1
        if copy.pos >= len(copy.template.frames):
            slots[slot] = fresh(slot)


def chunked(items: list[Item], chunk_bytes: int = 16384) -> list[Item]:
    """AMI frames joined into socket-sized reads (cut at any byte), GWS messages kept in place."""
    out: list[Item] = []
    buf = bytearray()
    for kind, dn, payload in items:
        if kind == "ami":
            buf += payload
            while len(buf) >= chunk_bytes:
                out.append(("ami", "", bytes(buf[:chunk_bytes])))
                del buf[:chunk_bytes]
        else:
            if buf:
                out.append(("ami", "", bytes(buf)))
                buf.clear()
            out.append((kind, dn, payload))
    if buf:
        out.append(("ami", "", bytes(buf)))
    return out
