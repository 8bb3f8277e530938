"""Hold music made here, so the sandbox needs no downloaded (or licensed) audio: a slow arpeggio
as raw G.711 µ-law at 8 kHz, the format Asterisk's format_pcm plays from a ``.ulaw`` file."""

from __future__ import annotations

import math

RATE = 8000
# C major arpeggio and back, one note per half second (Hz)
NOTES = (261.63, 329.63, 392.00, 523.25, 392.00, 329.63)
_BIAS, _CLIP = 0x84, 32635


def ulaw(sample: int) -> int:
    """One signed 16-bit linear sample -> one G.711 µ-law byte."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), _CLIP) + _BIAS
    exponent = (magnitude >> 7).bit_length() - 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def hold_music(seconds: float = 6.0, note_s: float = 0.5, level: float = 0.25) -> bytes:
    """``seconds`` of the arpeggio; each note fades in and out so the loop has no clicks."""
    per_note = int(RATE * note_s)
    out = bytearray()
    for i in range(int(RATE * seconds)):
        freq = NOTES[(i // per_note) % len(NOTES)]
        envelope = math.sin(math.pi * (i % per_note) / per_note)
        out.append(ulaw(int(32767 * level * envelope * math.sin(2 * math.pi * freq * i / RATE))))
    return bytes(out)
