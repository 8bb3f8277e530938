"""Known audio on the customer's side of a call, and what came back: G.711 mu-law, a tone as a pcap
for sipp's ``play_pcap_audio``, a tone as a WAV for Chromium's fake microphone, a Goertzel tone
detector, and an RTP sink that keeps every packet it receives (RFC 3550 loss and jitter).

Used by the load run (``bench/load_asterisk.py``) and the two-way audio tests (``tests/audio/``).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

RATE = 8000
PTIME_MS = 20
SAMPLES_PER_PACKET = RATE * PTIME_MS // 1000
PCMU = 0
_BIAS, _CLIP = 0x84, 32635


def mulaw_encode(sample: int) -> int:
    """One 16-bit linear sample -> one G.711 mu-law byte."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), _CLIP) + _BIAS
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _decode(byte: int) -> int:
    byte = ~byte & 0xFF
    magnitude = ((((byte & 0x0F) << 3) + _BIAS) << ((byte >> 4) & 0x07)) - _BIAS
    return -magnitude if byte & 0x80 else magnitude


MULAW_DECODE = tuple(_decode(b) for b in range(256))


def mulaw_decode(payload: bytes) -> list[int]:
    return [MULAW_DECODE[b] for b in payload]


def tone(frequency: float, seconds: float, rate: int = RATE, amplitude: float = 0.3) -> list[int]:
    """A sine at ``amplitude`` of full scale, as 16-bit samples."""
    return [round(amplitude * 32767 * math.sin(2 * math.pi * frequency * n / rate))
            for n in range(int(seconds * rate))]


def write_wav(path: Path, samples: list[int], rate: int) -> Path:
    """Mono 16-bit WAV (what ``--use-file-for-fake-audio-capture`` plays, in a loop)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total & 0xFFFF) + (total >> 16)
    return ~(total + (total >> 16)) & 0xFFFF


def write_pcap(path: Path, samples: list[int], ssrc: int = 0x5EED) -> Path:
    """The samples as PCMU RTP, 20 ms a packet, in a pcap (Ethernet/IPv4/UDP) that sipp replays at
    the capture's pace; sipp rewrites the addresses and ports."""
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n, start in enumerate(range(0, len(samples) - SAMPLES_PER_PACKET + 1, SAMPLES_PER_PACKET)):
        payload = bytes(mulaw_encode(s) for s in samples[start:start + SAMPLES_PER_PACKET])
        rtp = struct.pack("!BBHII", 0x80, PCMU, n & 0xFFFF, start & 0xFFFFFFFF, ssrc) + payload
        udp = struct.pack("!HHHH", 40000, 40000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        at_us = n * PTIME_MS * 1000
        records.append(struct.pack("<IIII", at_us // 1_000_000, at_us % 1_000_000, len(frame), len(frame)))
        records.append(frame)
    path.write_bytes(b"".join(records))
    return path


def tone_share(samples: list[int], frequency: float, rate: int = RATE) -> float:
    """The share (0..1) of the signal's power at ``frequency`` (Goertzel), so a tone is told apart
    from noise, silence or music whatever its level."""
    if not samples:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    at_frequency = (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2 / len(samples)
    total = sum(x * x for x in samples)
    return min(1.0, at_frequency / total) if total else 0.0


@dataclass
class RtpStats:
    packets: int
    lost: int  # expected (from the sequence numbers) minus received, never negative
    jitter_ms: float  # RFC 3550 interarrival jitter at the end
    samples: list[int] = field(repr=False)

    @property
    def loss_share(self) -> float:
        return self.lost / (self.packets + self.lost) if self.packets + self.lost else 0.0

    def tone_share(self, frequency: float, block: int = RATE // 5) -> float:
        """The median over 200 ms blocks that carry sound: a gap in the stream (a packet lost, a
        codec's silence) breaks the tone's phase, and one window over all of it would smear it."""
        blocks = [self.samples[i:i + block] for i in range(0, len(self.samples) - block + 1, block)]
        shares = [tone_share(b, frequency) for b in blocks if any(b)]
        return statistics.median(shares) if shares else 0.0

    def rms(self) -> float:
        return math.sqrt(sum(x * x for x in self.samples) / len(self.samples)) if self.samples else 0.0


class RtpSink(asyncio.DatagramProtocol):
    """A UDP port on the customer's side that keeps the PCMU RTP it receives (other payload types,
    e.g. comfort noise or DTMF, are counted out of the audio)."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, int, int, bytes]] = []  # arrival, seq, timestamp, payload
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, host: str) -> tuple[RtpSink, int]:
        loop = asyncio.get_running_loop()
        transport, sink = await loop.create_datagram_endpoint(cls, local_addr=(host, 0))
        return sink, transport.get_extra_info("sockname")[1]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7F != PCMU:
            return
        seq, timestamp = struct.unpack("!HI", data[2:8])
        header = 12 + 4 * (data[0] & 0x0F)
        self.packets.append((asyncio.get_running_loop().time(), seq, timestamp, data[header:]))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def stats(self) -> RtpStats:
        if not self.packets:
            return RtpStats(0, 0, 0.0, [])
        ordered = sorted(self.packets, key=lambda p: p[0])
        seqs = _unwrapped([p[1] for p in ordered])
        expected = max(seqs) - min(seqs) + 1
        jitter = 0.0
        for (t0, _, ts0, _), (t1, _, ts1, _) in itertools.pairwise(ordered):
            transit_change = (t1 - t0) * RATE - ((ts1 - ts0) & 0xFFFFFFFF)
            jitter += (abs(transit_change) - jitter) / 16
        by_seq = dict(zip(seqs, (p[3] for p in ordered), strict=True))  # a duplicate counts once
        samples = [s for n in sorted(by_seq) for s in mulaw_decode(by_seq[n])]
        return RtpStats(len(ordered), max(0, expected - len(by_seq)), jitter / RATE * 1000, samples)


def _unwrapped(seqs: list[int]) -> list[int]:
    """16-bit sequence numbers made monotonic across wraps (in arrival order)."""
    out, base, last = [], 0, None
    for s in seqs:
        if last is not None and s < last and last - s > 0x8000:
            base += 0x10000
        out.append(base + s)
        last = s
    return out
