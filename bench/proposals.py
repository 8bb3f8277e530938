"""The changes docs/performance.md proposes, applied in the bench process only, to measure them.

The service's code is not edited: these patch a class for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from ctibridge.core.correlator import Correlator

PROPOSED_STATE_EVERY_S = 1.0  # how often the measured proposal saves the core state


@contextlib.contextmanager
def core_state_at_most_every(every_s: float) -> Iterator[None]:
    """The pipeline builds ``correlator.export_state()`` for every batch and the store serialises
    it; here the export returns ``None`` (so ``append`` gets no core state) unless ``every_s``
    passed since the last one. What a takeover then needs is in docs/performance.md."""
    export = Correlator.export_state
    last = [float("-inf")]

    def throttled(self: Correlator) -> Any:
        now = time.monotonic()
        if now - last[0] < every_s:
            return None
        last[0] = now
        return export(self)

    Correlator.export_state = throttled  # type: ignore[method-assign]
    try:
        yield
    finally:
        Correlator.export_state = export  # type: ignore[method-assign]
