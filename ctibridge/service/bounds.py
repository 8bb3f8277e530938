"""Size limits on what Genesys sends before it reaches the core, the event log and the widgets:
a string longer than ``max_chars`` is cut (with a marker saying how much was dropped), a list or
object with more than ``max_items`` entries keeps the first ones. A 5 MB attached-data value is
somebody's mistake or an attack; either way no widget should receive it, and no log line should
hold it."""

from __future__ import annotations

from typing import Any

MAX_CHARS = 4096
MAX_ITEMS = 256


def bounded(value: Any, max_chars: int = MAX_CHARS, max_items: int = MAX_ITEMS) -> tuple[Any, int]:
    """(``value`` with every string and container within the limits, how many were cut)."""
    if isinstance(value, str):
        if len(value) <= max_chars:
            return value, 0
        return f"{value[:max_chars]}… [{len(value) - max_chars} characters cut]", 1
    if isinstance(value, dict):
        cut = int(len(value) > max_items)
        out: dict[str, Any] = {}
        for key, item in list(value.items())[:max_items]:
            out[str(key)[:max_chars]], n = bounded(item, max_chars, max_items)
            cut += n
        return (out, cut) if cut else (value, 0)  # unchanged: the caller's object as it was
    if isinstance(value, list):
        cut = int(len(value) > max_items)
        items = []
        for item in value[:max_items]:
            new, n = bounded(item, max_chars, max_items)
            items.append(new)
            cut += n
        return (items, cut) if cut else (value, 0)
    return value, 0
